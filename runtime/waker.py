"""The waker Lambda: wakes the worker service from zero the moment work is enqueued.

Every path that enqueues for the worker service nudges it: the producer after a send
(``runtime.producer``, asynchronously and debounced per process), each EventBridge rule
(a second target) and each schedule (a twin schedule at the same times). The queue
cannot announce a message; these paths can.

It sets the service's desired count to 1 only when it is 0 with no task running or
starting (:func:`runtime.contract.backlog.needs_wake`, the rule the wake-up alarm's
signal uses), and does nothing otherwise, so it is idempotent, never raises a count
above 1, and cannot ratchet a service whose tasks fail to start (ECS keeps trying at
desired 1; the waker leaves it there). Target tracking scales out and in as before.

UpdateService has no condition: if Application Auto Scaling raised the count in the
milliseconds between this DescribeServices and UpdateService (only possible from 0),
the waker sets it back to 1, and target tracking raises it again at its next
datapoints.

It does not read the queue: a nudge is the evidence of work, and an EventBridge rule's
two targets are delivered independently, so the message may land a moment after the
nudge. A nudge that finds no work costs one task until target tracking scales it in.

Environment: ``CLUSTER_NAME`` and ``SERVICE_NAME`` (the backlog metric's names).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from runtime.aws_clients import client
from runtime.backlog_metric import service_counts
from runtime.contract import METRIC_CLUSTER_ENV, METRIC_SERVICE_ENV
from runtime.contract.backlog import needs_wake
from runtime.errors import ConfigurationError
from runtime.log import logger

if TYPE_CHECKING:
    from mypy_boto3_ecs.client import ECSClient

__all__ = ["ServiceRef", "WakeResult", "handler", "wake"]


@dataclass(frozen=True)
class ServiceRef:
    cluster_name: str
    service_name: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServiceRef:
        missing = [name for name in (METRIC_CLUSTER_ENV, METRIC_SERVICE_ENV) if not env.get(name)]
        if missing:
            raise ConfigurationError(
                f"waker: environment variable(s) {', '.join(missing)} not set; the "
                "worker-service stack sets CLUSTER_NAME and SERVICE_NAME on this function"
            )
        return cls(env[METRIC_CLUSTER_ENV], env[METRIC_SERVICE_ENV])


class WakeResult(TypedDict):
    cluster_name: str
    service_name: str
    desired: int
    running: int
    pending: int
    woken: bool


def wake(service: ServiceRef, *, ecs: ECSClient | None = None) -> WakeResult:
    """Set the desired count to 1 if the service is asleep; otherwise change nothing."""
    ecs = ecs if ecs is not None else client("ecs")
    running, pending, desired = service_counts(ecs, service.cluster_name, service.service_name)
    woken = needs_wake(desired=desired, running=running, pending=pending)
    if woken:
        # Only desiredCount changes: "UpdateService" (ECS API Reference) adds or removes
        # instantiations for a new desiredCount, apart from the deployments a task
        # definition change triggers (not verified on AWS here). Setting (not adding) 1
        # makes concurrent nudges agree.
        ecs.update_service(
            cluster=service.cluster_name, service=service.service_name, desiredCount=1
        )
    return WakeResult(
        cluster_name=service.cluster_name,
        service_name=service.service_name,
        desired=desired,
        running=running,
        pending=pending,
        woken=woken,
    )


def handler(event: Mapping[str, Any], context: Any) -> WakeResult:
    """Lambda entry point for every nudge (the event, an envelope or {}, is unused)."""
    del event, context
    result = wake(ServiceRef.from_env(os.environ))
    logger.info("woken" if result["woken"] else "awake already", extra=dict(result))
    return result
