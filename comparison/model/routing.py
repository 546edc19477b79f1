"""Who consumes which tasks, from which queues: derived from resources and their references.

Roles come from the ``AsyncTasks`` metadata; a Lambda without it that an SQS event
source mapping feeds is treated as a task consumer (the ``lambdas`` stack today).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from comparison.inputs.templates import Resource, StackTemplate, ref_target, referenced_ids
from comparison.model.resources import (
    FunctionModel,
    ResourceModel,
    ServiceModel,
    dead_letter_queue_ids,
    event_source_mappings,
)
from runtime.contract import (
    ENDPOINT_WORKERS_DETAIL,
    POLLER_THREADS_DETAIL,
    TASK_DETAIL,
    TASK_NAME_ENV,
    ResourceRole,
)
from runtime.contract.topology import ConsumerKind as ConsumerKind  # the contract's, re-exported

# Keyed by role name: ``Resource.role`` is the metadata's string.
_SERVICE_KINDS: dict[str, ConsumerKind] = {
    ResourceRole.WORKER: ConsumerKind.WORKER,
    ResourceRole.WEBAPP: ConsumerKind.WEBAPP,
    ResourceRole.ENDPOINT: ConsumerKind.ENDPOINT,
}


@dataclass(frozen=True)
class Consumer:
    resource: FunctionModel | ServiceModel
    kind: ConsumerKind
    tasks: tuple[str, ...]
    queues: tuple[str, ...]
    """Logical ids of the SQS queues it polls (none for an HTTP endpoint)."""
    threads_per_unit: int
    """Concurrent tasks per Fargate task (poller threads or web workers); 1 for Lambda."""

    @property
    def logical_id(self) -> str:
        return self.resource.logical_id


@dataclass(frozen=True)
class Routing:
    consumers: tuple[Consumer, ...]
    unrouted: tuple[str, ...]
    """Task names no resource in the stack processes (a placeholder stack)."""


def work_queue_ids(template: StackTemplate) -> list[str]:
    dead = dead_letter_queue_ids(template)
    return [q.logical_id for q in template.of_type("AWS::SQS::Queue") if q.logical_id not in dead]


def _lambda_task_name(function: Resource) -> str | None:
    named = function.meta(TASK_DETAIL)
    if named:
        return str(named)
    variables = function.properties.get("Environment", {}).get("Variables", {})
    value = variables.get(TASK_NAME_ENV) if isinstance(variables, dict) else None
    return value if isinstance(value, str) else None


def _task_definition(template: StackTemplate, service: Resource) -> Resource | None:
    return template.get(ref_target(service.properties.get("TaskDefinition")))


def service_queue_ids(template: StackTemplate, service: Resource) -> list[str]:
    """Queues an ECS service's task definition refers to (its environment or role)."""
    definition = _task_definition(template, service)
    if definition is None:
        return []
    mentioned = referenced_ids(definition.properties.get("ContainerDefinitions"))
    queues = set(work_queue_ids(template))
    return sorted(mentioned & queues)


def build_routing(
    template: StackTemplate,
    records: Mapping[str, ResourceModel],
    task_names: tuple[str, ...],
    *,
    poller_threads: int = 1,
    endpoint_workers: int = 4,
) -> Routing:
    """Assign every task to the consumer that processes it in this stack.

    ``records`` are the typed resources of ``template`` by logical id, which each
    consumer carries. ``poller_threads`` and ``endpoint_workers`` apply where the
    metadata gives none.
    """
    consumers: list[Consumer] = []
    claimed: set[str] = set()
    unnamed_lambdas: list[tuple[Resource, list[str]]] = []
    for function in template.of_type("AWS::Lambda::Function"):
        mappings = event_source_mappings(template, function.logical_id)
        if function.role not in (None, ResourceRole.TASK) or (
            function.role is None and not mappings
        ):
            continue
        queues = sorted(
            {q for m in mappings if (q := ref_target(m.properties.get("EventSourceArn")))}
        )
        name = _lambda_task_name(function)
        if name is None or name not in task_names:
            unnamed_lambdas.append((function, queues))
            continue
        claimed.add(name)
        consumers.append(
            Consumer(
                _typed(records, function, FunctionModel),
                ConsumerKind.LAMBDA,
                (name,),
                tuple(queues),
                1,
            )
        )
    remaining = tuple(t for t in task_names if t not in claimed)
    for function, queues in unnamed_lambdas:
        consumers.append(
            Consumer(
                _typed(records, function, FunctionModel),
                ConsumerKind.LAMBDA,
                remaining,
                tuple(queues),
                1,
            )
        )
        remaining = ()
    for service in template.of_type("AWS::ECS::Service"):
        consumer = _service_consumer(
            template,
            _typed(records, service, ServiceModel),
            service,
            remaining,
            poller_threads,
            endpoint_workers,
        )
        if consumer is not None:
            consumers.append(consumer)
            remaining = ()
    return Routing(consumers=tuple(consumers), unrouted=remaining)


R = TypeVar("R", bound=ResourceModel)


def _typed(records: Mapping[str, ResourceModel], resource: Resource, kind: type[R]) -> R:
    record = records[resource.logical_id]
    if not isinstance(record, kind):
        raise TypeError(
            f"{resource.logical_id} ({resource.type}) was read as {type(record).__name__}"
        )
    return record


def _service_consumer(
    template: StackTemplate,
    record: ServiceModel,
    service: Resource,
    remaining: tuple[str, ...],
    poller_threads: int,
    endpoint_workers: int,
) -> Consumer | None:
    kind = _SERVICE_KINDS.get(service.role or "")
    if service.role is None and service_queue_ids(template, service):
        kind = ConsumerKind.WORKER  # no metadata yet, but its tasks are told a work queue
    threads = service.meta(POLLER_THREADS_DETAIL)
    # The web app is a consumer only where it runs the poller.
    if kind is None or (kind is ConsumerKind.WEBAPP and not threads):
        return None
    if kind is ConsumerKind.ENDPOINT:
        queues: list[str] = []
        threads = service.meta(ENDPOINT_WORKERS_DETAIL)
    else:
        queues = service_queue_ids(template, service) or [
            q
            for q in work_queue_ids(template)
            if not template.referrers(q, "AWS::Lambda::EventSourceMapping")
        ]
    default = endpoint_workers if kind is ConsumerKind.ENDPOINT else poller_threads
    return Consumer(record, kind, remaining, tuple(queues), int(threads) if threads else default)


def web_app_ids(template: StackTemplate) -> frozenset[str]:
    """The web-app services and the scaling resources and alarms that act on them: the
    web app as it runs today, part of the baseline in every topology."""
    services = {s.logical_id for s in template.with_role(ResourceRole.WEBAPP)}
    targets = {
        t.logical_id
        for t in template.of_type("AWS::ApplicationAutoScaling::ScalableTarget")
        if services & referenced_ids(t.properties.get("ResourceId"))
    }
    policies = {
        p.logical_id
        for p in template.of_type("AWS::ApplicationAutoScaling::ScalingPolicy")
        if targets & referenced_ids(p.properties.get("ScalingTargetId"))
    }
    alarms = {
        a.logical_id
        for a in template.of_type("AWS::CloudWatch::Alarm")
        if policies & {ref_target(x) for x in a.properties.get("AlarmActions", [])}
    }
    return frozenset(services | targets | policies | alarms)


def in_vpc(consumer: Consumer) -> bool:
    """Fargate tasks always run in a VPC; a Lambda only with a VpcConfig."""
    resource = consumer.resource
    return not isinstance(resource, FunctionModel) or resource.in_vpc
