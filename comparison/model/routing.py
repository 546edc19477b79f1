"""Who consumes which tasks, from which queues: derived from resources and their references.

Roles come from the ``AsyncTasks`` metadata; a Lambda without it that an SQS event
source mapping feeds is treated as a task consumer (the ``lambdas`` stack today).
"""

from __future__ import annotations

from dataclasses import dataclass

from comparison.inputs.templates import (
    Resource,
    StackTemplate,
    per_template,
    ref_target,
    referenced_ids,
)
from runtime.contract import POLLER_THREADS_DETAIL, TASK_DETAIL, TASK_NAME_ENV, ResourceRole
from runtime.contract.topology import ConsumerKind as ConsumerKind  # the contract's, re-exported

# Keyed by role name: ``Resource.role`` is the metadata's string.
_SERVICE_KINDS: dict[str, ConsumerKind] = {
    ResourceRole.WORKER: ConsumerKind.WORKER,
    ResourceRole.WEBAPP: ConsumerKind.WEBAPP,
    ResourceRole.ENDPOINT: ConsumerKind.ENDPOINT,
}


@dataclass(frozen=True)
class Consumer:
    resource: Resource
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


_FAILURE_KEYS = ("DeadLetterConfig", "DestinationConfig", "deadLetterTargetArn")


def _failure_targets(value: object) -> set[str]:
    """Ids under keys that name where failures go, anywhere in a property value."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            found |= referenced_ids(inner) if key in _FAILURE_KEYS else _failure_targets(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _failure_targets(inner)
    return found


@per_template
def dead_letter_queue_ids(template: StackTemplate) -> frozenset[str]:
    """Queues that only ever receive failures: redrive DLQs, delivery and invocation DLQs."""
    queues = {q.logical_id for q in template.of_type("AWS::SQS::Queue")}
    found: set[str] = set()
    for resource in template.resources.values():
        found |= _failure_targets(resource.properties)
    return frozenset(found & queues)


def work_queue_ids(template: StackTemplate) -> list[str]:
    dead = dead_letter_queue_ids(template)
    return [q.logical_id for q in template.of_type("AWS::SQS::Queue") if q.logical_id not in dead]


def event_source_mappings(template: StackTemplate, function_id: str) -> list[Resource]:
    return [
        m
        for m in template.of_type("AWS::Lambda::EventSourceMapping")
        if ref_target(m.properties.get("FunctionName")) == function_id
        or function_id in referenced_ids(m.properties.get("FunctionName"))
    ]


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
    task_names: tuple[str, ...],
    *,
    poller_threads: int = 1,
    endpoint_workers: int = 4,
) -> Routing:
    """Assign every task to the consumer that processes it in this stack.

    ``poller_threads`` and ``endpoint_workers`` apply where the metadata gives none.
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
        consumers.append(Consumer(function, ConsumerKind.LAMBDA, (name,), tuple(queues), 1))
    remaining = tuple(t for t in task_names if t not in claimed)
    for function, queues in unnamed_lambdas:
        consumers.append(Consumer(function, ConsumerKind.LAMBDA, remaining, tuple(queues), 1))
        remaining = ()
    for service in template.of_type("AWS::ECS::Service"):
        consumer = _service_consumer(template, service, remaining, poller_threads, endpoint_workers)
        if consumer is not None:
            consumers.append(consumer)
            remaining = ()
    return Routing(consumers=tuple(consumers), unrouted=remaining)


def _service_consumer(
    template: StackTemplate,
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
        threads = service.meta("workers")
    else:
        queues = service_queue_ids(template, service) or [
            q
            for q in work_queue_ids(template)
            if not template.referrers(q, "AWS::Lambda::EventSourceMapping")
        ]
    default = endpoint_workers if kind is ConsumerKind.ENDPOINT else poller_threads
    return Consumer(service, kind, remaining, tuple(queues), int(threads) if threads else default)


@per_template
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
    return consumer.kind is not ConsumerKind.LAMBDA or "VpcConfig" in consumer.resource.properties
