"""One typed model per topology, read from its template once: its resources as typed
records (sizes, capacity, scaling, network, queues, alarms, schedules), who consumes
which tasks, the schedules and rules, and which resources are the web app's own.

Usage, latency and the report are functions of (model, workload, assumptions), and
none of them reads the template. :func:`topology_model` keeps no cache: the caller builds
a model once per template and passes it on. The scaling rule of a Fargate consumer is
resolved per workload (its default target depends on the task durations), by
:func:`comparison.simulate.latency.fleet_scaling`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from comparison.inputs.assumptions import Assumptions
from comparison.inputs.templates import StackTemplate
from comparison.inputs.workload import Workload
from comparison.model.resources import (
    EndpointModel,
    FunctionModel,
    ResourceModel,
    dead_letter_queue_ids,
    resource_model,
)
from comparison.model.routing import (
    ConsumerKind,
    Routing,
    build_routing,
    web_app_ids,
    work_queue_ids,
)
from comparison.model.triggers import Trigger, read_triggers

R = TypeVar("R", bound=ResourceModel)


@dataclass(frozen=True)
class NetworkModel:
    nat_gateways: tuple[str, ...]
    elastic_ips: tuple[str, ...]
    interface_endpoints: tuple[EndpointModel, ...]
    """Interface endpoints only: gateway endpoints (S3, DynamoDB) are free."""
    pulls_through_endpoints: bool
    """ECR (``ecr.dkr``) and S3, where ECR keeps image layers, both have endpoints."""
    layers_through_s3_endpoint: bool = False
    """S3 has an endpoint (a free gateway one with ``network=nat``): image layers, which
    ECR serves from S3, bypass the NAT gateway; the ECR API calls still pass it."""


@dataclass(frozen=True)
class TopologyModel:
    stack_id: str
    label: str
    kind: ConsumerKind | None
    """The consumer kind the stack is stamped with (None for a stack without a stamp)."""
    resources: tuple[ResourceModel, ...]
    """Every resource of the stack, typed, in template order."""
    routing: Routing
    work_queues: tuple[str, ...]
    dead_letter_queues: frozenset[str]
    triggers: tuple[Trigger, ...]
    web_app: frozenset[str]
    """The web app's service, scaling and alarms: the baseline, charged to no topology."""
    network: NetworkModel

    def resource(self, logical_id: str) -> ResourceModel | None:
        return next((r for r in self.resources if r.logical_id == logical_id), None)

    def of_kind(self, kind: type[R]) -> list[R]:
        return [r for r in self.resources if isinstance(r, kind)]

    def with_role(self, *roles: str) -> list[ResourceModel]:
        return [r for r in self.resources if r.role in roles]

    def functions_with_role(self, role: str) -> list[FunctionModel]:
        return [f for f in self.of_kind(FunctionModel) if f.role == role]


def _reaches(endpoints: Sequence[EndpointModel], service: str) -> bool:
    """Whether a VPC endpoint's ServiceName (a string or an Fn::Join) ends in ``.service``."""
    return any(f'.{service}"' in e.service_name for e in endpoints)


def network_model(resources: Sequence[ResourceModel]) -> NetworkModel:
    endpoints = [r for r in resources if isinstance(r, EndpointModel)]
    return NetworkModel(
        nat_gateways=tuple(r.logical_id for r in resources if r.type == "AWS::EC2::NatGateway"),
        elastic_ips=tuple(r.logical_id for r in resources if r.type == "AWS::EC2::EIP"),
        interface_endpoints=tuple(e for e in endpoints if e.interface),
        pulls_through_endpoints=_reaches(endpoints, "ecr.dkr") and _reaches(endpoints, "s3"),
        layers_through_s3_endpoint=_reaches(endpoints, "s3"),
    )


def topology_model(
    template: StackTemplate,
    task_names: tuple[str, ...],
    *,
    poller_threads: int = 1,
    endpoint_workers: int = 4,
) -> TopologyModel:
    """Read ``template`` into its model; ``task_names`` are routed to its consumers.

    ``poller_threads`` and ``endpoint_workers`` apply where the metadata gives none."""
    dead_letter = dead_letter_queue_ids(template)
    records = {
        logical_id: resource_model(template, resource, dead_letter)
        for logical_id, resource in template.resources.items()
    }
    resources = tuple(records.values())
    return TopologyModel(
        stack_id=template.stack_id,
        label=template.label,
        kind=template.kind,
        resources=resources,
        routing=build_routing(
            template,
            records,
            task_names,
            poller_threads=poller_threads,
            endpoint_workers=endpoint_workers,
        ),
        work_queues=tuple(work_queue_ids(template)),
        dead_letter_queues=dead_letter,
        triggers=read_triggers(template),
        web_app=web_app_ids(template),
        network=network_model(resources),
    )


def topology_models(
    templates: Sequence[StackTemplate], workload: Workload, assumptions: Assumptions
) -> tuple[TopologyModel, ...]:
    """The model of each template, routing the workload's tasks with the assumed defaults."""
    names = tuple(task.name for task in workload.tasks)
    return tuple(
        topology_model(
            template,
            names,
            poller_threads=assumptions.default_poller_threads,
            endpoint_workers=assumptions.endpoint_workers_per_task,
        )
        for template in templates
    )
