"""The backlog metric Lambda: publishes what the worker service's scaling rules need.

EventBridge runs ``runtime.backlog_metric.handler`` every minute. It reads the queue's
visible and in-flight message counts and the service's running and pending task
counts, and always publishes one datapoint per metric, 0 included, because missing
data keeps target tracking from scaling in.

- ``BacklogPerTask`` = (visible + in flight) / max(running + pending, 1). In-flight
  messages count, so a busy service is not scaled in under its workers (the gap in
  aws-cdk #9242); at 0 tasks the divisor is 1, so the metric shows demand.
- ``WakeUpSignal`` = 1 when there are messages, no task runs or starts, and the
  service's desired count is 0. A step-scaling alarm on it takes the service from 0 to
  1 even when the backlog is below the target-tracking target (copilot-cli #3376).
  Application Auto Scaling repeats a step action every minute while its alarm stays in
  ALARM, so the desired count matters: when it is already above 0 but no task runs
  (an image that cannot start, say), ECS is already trying, and another step would
  only ratchet the count up to the maximum.
- ``VisibleMessages``, ``InFlightMessages`` and ``RunningTasks`` are for dashboards.

Environment: ``QUEUE_URL``, ``CLUSTER_NAME``, ``SERVICE_NAME`` and optionally
``METRIC_NAMESPACE`` (default ``AsyncTasks``). Dimensions: ``ClusterName`` and
``ServiceName``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, Unpack

from runtime.contract import (
    DEFAULT_METRIC_NAMESPACE,
    METRIC_CLUSTER_ENV,
    METRIC_NAMESPACE_ENV,
    METRIC_QUEUE_URL_ENV,
    METRIC_SERVICE_ENV,
)
from runtime.contract.backlog import (
    BACKLOG_PER_TASK,
    IN_FLIGHT_ATTRIBUTE,
    IN_FLIGHT_MESSAGES,
    METRIC_UNITS,
    RUNNING_TASKS,
    VISIBLE_ATTRIBUTE,
    VISIBLE_MESSAGES,
    WAKE_UP_SIGNAL,
    BacklogSample,
    compute_backlog,
)
from runtime.errors import ConfigurationError
from runtime.log import logger

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.type_defs import DimensionTypeDef, PutMetricDataInputTypeDef
    from mypy_boto3_ecs.client import ECSClient
    from mypy_boto3_sqs.client import SQSClient

DEFAULT_NAMESPACE = DEFAULT_METRIC_NAMESPACE

__all__ = [
    "BACKLOG_PER_TASK",
    "DEFAULT_NAMESPACE",
    "IN_FLIGHT_MESSAGES",
    "METRIC_UNITS",
    "RUNNING_TASKS",
    "VISIBLE_MESSAGES",
    "WAKE_UP_SIGNAL",
    "BacklogSample",
    "BacklogTarget",
    "PublishedBacklog",
    "ServiceNotFoundError",
    "compute_backlog",
    "handler",
    "publish_backlog",
    "service_counts",
]


class MetricPublisher(Protocol):
    """The one CloudWatch call the Lambda makes (boto3's client, or a test's recorder)."""

    def put_metric_data(self, **kwargs: Unpack[PutMetricDataInputTypeDef]) -> object: ...


class ServiceNotFoundError(ConfigurationError):
    """``describe_services`` did not find the configured ECS service."""


@dataclass(frozen=True, kw_only=True)
class BacklogTarget:
    """Which queue and service to observe, and where to publish."""

    queue_url: str
    cluster_name: str
    service_name: str
    namespace: str = DEFAULT_NAMESPACE

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BacklogTarget:
        """Read the target from the environment; names every missing variable at once."""
        required = (METRIC_QUEUE_URL_ENV, METRIC_CLUSTER_ENV, METRIC_SERVICE_ENV)
        missing = [name for name in required if not env.get(name)]
        if missing:
            raise ConfigurationError(
                f"backlog metric: environment variable(s) {', '.join(missing)} not set; the "
                "worker-service stack sets QUEUE_URL, CLUSTER_NAME and SERVICE_NAME on this "
                "function"
            )
        return cls(
            queue_url=env[METRIC_QUEUE_URL_ENV],
            cluster_name=env[METRIC_CLUSTER_ENV],
            service_name=env[METRIC_SERVICE_ENV],
            namespace=env.get(METRIC_NAMESPACE_ENV) or DEFAULT_NAMESPACE,
        )


class PublishedBacklog(TypedDict):
    """What one run published: the handler's return value and its log line."""

    namespace: str
    cluster_name: str
    service_name: str
    visible: int
    in_flight: int
    running: int
    pending: int
    desired: int
    backlog_per_task: float
    wake_up: int


def publish_backlog(
    target: BacklogTarget,
    *,
    sqs: SQSClient | None = None,
    ecs: ECSClient | None = None,
    cloudwatch: MetricPublisher | None = None,
) -> PublishedBacklog:
    """Observe the queue and service, and publish every metric in one call.

    Clients default to new boto3 clients, created per call so nothing is held
    between invocations.
    """
    import boto3  # here, not at import: the cost model imports this module's formula

    sqs = sqs if sqs is not None else boto3.client("sqs")
    ecs = ecs if ecs is not None else boto3.client("ecs")
    cloudwatch = cloudwatch if cloudwatch is not None else boto3.client("cloudwatch")

    visible, in_flight = _queue_counts(sqs, target.queue_url)
    running, pending, desired = service_counts(ecs, target.cluster_name, target.service_name)
    sample = compute_backlog(visible, in_flight, running, pending, desired=desired)

    dimensions: list[DimensionTypeDef] = [
        {"Name": "ClusterName", "Value": target.cluster_name},
        {"Name": "ServiceName", "Value": target.service_name},
    ]
    values: dict[str, float] = {
        BACKLOG_PER_TASK: sample.backlog_per_task,
        WAKE_UP_SIGNAL: sample.wake_up,
        VISIBLE_MESSAGES: sample.visible,
        IN_FLIGHT_MESSAGES: sample.in_flight,
        RUNNING_TASKS: sample.running,
    }
    cloudwatch.put_metric_data(
        Namespace=target.namespace,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": dimensions,
                "Value": float(value),
                "Unit": METRIC_UNITS[name],
            }
            for name, value in values.items()
        ],
    )
    return PublishedBacklog(
        namespace=target.namespace,
        cluster_name=target.cluster_name,
        service_name=target.service_name,
        visible=sample.visible,
        in_flight=sample.in_flight,
        running=sample.running,
        pending=sample.pending,
        desired=sample.desired,
        backlog_per_task=sample.backlog_per_task,
        wake_up=sample.wake_up,
    )


def handler(event: Mapping[str, Any], context: Any) -> PublishedBacklog:
    """Lambda entry point for the every-minute EventBridge rule (the event is unused)."""
    del event, context
    published = publish_backlog(BacklogTarget.from_env(os.environ))
    logger.info("backlog metric published", extra=dict(published))
    return published


def _queue_counts(sqs: SQSClient, queue_url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=[VISIBLE_ATTRIBUTE, IN_FLIGHT_ATTRIBUTE]
    )["Attributes"]
    return int(attributes[VISIBLE_ATTRIBUTE]), int(attributes[IN_FLIGHT_ATTRIBUTE])


def service_counts(ecs: ECSClient, cluster_name: str, service_name: str) -> tuple[int, int, int]:
    """(running, pending, desired) of one service, from DescribeServices."""
    response = ecs.describe_services(cluster=cluster_name, services=[service_name])
    services = response.get("services") or []
    if not services:
        # Publishing 0 here would scale a live service in on a typo; fail loudly instead.
        raise ServiceNotFoundError(
            f"backlog metric: ECS service '{service_name}' not found in cluster "
            f"'{cluster_name}' (failures: {response.get('failures')}); check CLUSTER_NAME "
            "and SERVICE_NAME"
        )
    service = services[0]
    return (
        int(service["runningCount"]),
        int(service["pendingCount"]),
        int(service["desiredCount"]),
    )
