"""One typed model per topology, read from its template once: consumers, queues,
schedules and rules, the web app's own resources and the network.

Usage, latency and the report are functions of (model, workload, assumptions). The
scaling rule of a Fargate consumer is read per workload (its default target depends on
the task durations), by :func:`comparison.simulate.latency.fleet_scaling`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from comparison.inputs.templates import Resource, StackTemplate
from comparison.model.routing import (
    Routing,
    build_routing,
    dead_letter_queue_ids,
    web_app_ids,
    work_queue_ids,
)
from comparison.model.triggers import Trigger, triggers


@dataclass(frozen=True)
class NetworkModel:
    nat_gateways: tuple[str, ...]
    elastic_ips: tuple[str, ...]
    interface_endpoints: tuple[Resource, ...]
    """Interface endpoints only: gateway endpoints (S3, DynamoDB) are free."""
    pulls_through_endpoints: bool
    """ECR (``ecr.dkr``) and S3, where ECR keeps image layers, both have endpoints."""


@dataclass(frozen=True)
class TopologyModel:
    template: StackTemplate
    routing: Routing
    work_queues: tuple[str, ...]
    dead_letter_queues: frozenset[str]
    triggers: tuple[Trigger, ...]
    web_app: frozenset[str]
    """The web app's service, scaling and alarms: the baseline, charged to no topology."""
    network: NetworkModel

    @property
    def label(self) -> str:
        return self.template.label


def _reaches(template: StackTemplate, service: str) -> bool:
    """Whether a VPC endpoint's ServiceName (a string or an Fn::Join) ends in ``.service``."""
    return any(
        f'.{service}"' in json.dumps(e.properties.get("ServiceName"))
        for e in template.of_type("AWS::EC2::VPCEndpoint")
    )


def network_model(template: StackTemplate) -> NetworkModel:
    return NetworkModel(
        nat_gateways=tuple(r.logical_id for r in template.of_type("AWS::EC2::NatGateway")),
        elastic_ips=tuple(r.logical_id for r in template.of_type("AWS::EC2::EIP")),
        interface_endpoints=tuple(
            r
            for r in template.of_type("AWS::EC2::VPCEndpoint")
            if r.properties.get("VpcEndpointType") == "Interface"
        ),
        pulls_through_endpoints=_reaches(template, "ecr.dkr") and _reaches(template, "s3"),
    )


def model_of(template: StackTemplate, routing: Routing) -> TopologyModel:
    return TopologyModel(
        template=template,
        routing=routing,
        work_queues=tuple(work_queue_ids(template)),
        dead_letter_queues=dead_letter_queue_ids(template),
        triggers=triggers(template),
        web_app=web_app_ids(template),
        network=network_model(template),
    )


_MODELS: dict[tuple[int, tuple[str, ...], int, int], tuple[StackTemplate, TopologyModel]] = {}


def topology_model(
    template: StackTemplate,
    task_names: tuple[str, ...],
    *,
    poller_threads: int = 1,
    endpoint_workers: int = 4,
) -> TopologyModel:
    """The model of ``template``, built once per template and task list."""
    key = (id(template), task_names, poller_threads, endpoint_workers)
    hit = _MODELS.get(key)
    if hit is None or hit[0] is not template:
        routing = build_routing(
            template, task_names, poller_threads=poller_threads, endpoint_workers=endpoint_workers
        )
        hit = (template, model_of(template, routing))
        _MODELS[key] = hit
    return hit[1]
