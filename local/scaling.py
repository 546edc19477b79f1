"""The worker service's scaling, run locally: the metric's own formula, the template's
policies and the project's one autoscaler model, one decision per simulated minute.

Every simulated minute (``minute_seconds`` of real time) the queue's visible and
in-flight counts and the local service's processes (local-deploy's workers stand for
the ECS service's tasks; moto's service runs none) form one datapoint for
:class:`comparison.model.autoscaler.Autoscaler`, the model the comparison's simulation
steps too. It computes the metric with :func:`runtime.contract.backlog.compute_backlog`,
the formula the metric Lambda publishes with, and acts as Application Auto Scaling
does on the policies read from the template by :mod:`comparison.model.scaling`: the
wake-up alarm and its step, target tracking's AWS-managed alarms (3 datapoints above
the target to scale out, 15 below 90 % of it to scale in), the cooldowns, and
``MinCapacity``..``MaxCapacity``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from comparison.inputs.assumptions import DEFAULT_ASSUMPTIONS
from comparison.inputs.templates import parse_template
from comparison.model.autoscaler import Autoscaler, Observation
from comparison.model.resources import ServiceModel
from comparison.model.routing import ConsumerKind
from comparison.model.scaling import ScalingParams, scaling_params
from comparison.model.topology import topology_model
from runtime.catalogue import CATALOGUE
from runtime.contract import (
    METRIC_CLUSTER_ENV,
    METRIC_QUEUE_URL_ENV,
    METRIC_SERVICE_ENV,
)
from runtime.contract.backlog import (
    DEFAULT_ACCEPTABLE_LATENCY_SECONDS,
    IN_FLIGHT_ATTRIBUTE,
    VISIBLE_ATTRIBUTE,
    target_backlog_per_task,
)


def worker_scaling(template_path: Path) -> ScalingParams:
    """The worker service's scaling policies, read from its synthesized template.

    Where the template names no target, the construct's default derivation stands in:
    the default acceptable latency, the catalogue's mean expected duration and the
    service's poller threads (as the construct computes it)."""
    stack_id = template_path.name.removesuffix(".template.json")
    template = parse_template(stack_id, json.loads(template_path.read_text()))
    model = topology_model(template, tuple(CATALOGUE))
    (worker,) = (c for c in model.routing.consumers if c.kind is ConsumerKind.WORKER)
    if not isinstance(worker.resource, ServiceModel):
        raise TypeError(f"{worker.logical_id}: a worker must be an ECS service")
    mean = sum(t.expected_duration_seconds for t in CATALOGUE.values()) / len(CATALOGUE)
    default = target_backlog_per_task(
        DEFAULT_ACCEPTABLE_LATENCY_SECONDS, mean, worker.threads_per_unit
    )
    return scaling_params(worker.resource, DEFAULT_ASSUMPTIONS, default_target=default)


@dataclass(frozen=True)
class MetricTarget:
    """What the backlog metric function observes, read from its deployed environment
    (the names are the contract's)."""

    queue_url: str
    cluster_name: str
    service_name: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MetricTarget:
        return cls(
            queue_url=env[METRIC_QUEUE_URL_ENV],
            cluster_name=env[METRIC_CLUSTER_ENV],
            service_name=env[METRIC_SERVICE_ENV],
        )

    def queue_counts(self) -> tuple[int, int]:
        """Visible and in-flight messages, the two attributes the metric function reads."""
        attributes = boto3.client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=[VISIBLE_ATTRIBUTE, IN_FLIGHT_ATTRIBUTE],
        )["Attributes"]
        return (
            int(attributes[VISIBLE_ATTRIBUTE]),
            int(attributes[IN_FLIGHT_ATTRIBUTE]),
        )


class LocalAutoscaler:
    """One decision per call of :meth:`decide` (one simulated minute)."""

    def __init__(self, params: ScalingParams, target: MetricTarget) -> None:
        self.params = params
        self.target = target
        self.minute = 0
        self._model = Autoscaler(params)

    @property
    def desired(self) -> int:
        return self._model.desired

    def follow(self, desired: int) -> None:
        """The service's count as ECS now holds it (the waker may have changed it)."""
        self._model.follow(desired)

    def decide(self, running: int, pending: int) -> tuple[int, str]:
        """The new desired count, and a line saying why (empty when unchanged)."""
        self.minute += 1
        visible, in_flight = self.target.queue_counts()
        decision = self._model.observe(
            self.minute * 60.0, Observation(visible, in_flight, running, pending)
        )
        if not decision.reason:
            return decision.desired, ""
        return decision.desired, (
            f"minute {self.minute}: {visible + in_flight} messages, {running} running -> "
            f"desired {decision.desired} by {decision.reason}"
        )


def deployed_worker_service(cloudformation: Any, stack_name: str) -> tuple[str, str]:
    """(cluster, service) of the worker service in a deployed stack, from its resources."""
    resources = cloudformation.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    cluster = next(
        r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::ECS::Cluster"
    )
    service = next(
        r["PhysicalResourceId"]
        for r in resources
        if r["ResourceType"] == "AWS::ECS::Service" and r["LogicalResourceId"].startswith("Workers")
    )
    return cluster, service
