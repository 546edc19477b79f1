"""Typed records of the template resources the comparison reads: one reading of each
resource's properties, so cost, simulation and rendering never see raw properties.

Every resource becomes a :class:`ResourceModel` (its id, type, construct path, role and
where its failures go); the types the cost model and the diagram look into get a
subclass with the fields they need, each with the default CloudFormation applies when
the property is absent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from comparison.inputs.templates import Resource, StackTemplate, ref_target, referenced_ids
from comparison.model.scaling import ScalingReading, number, scaling_reading
from runtime.contract import TASK_DETAIL

# Keys under which a resource names where its failures go.
_FAILURE_KEYS = ("DeadLetterConfig", "DestinationConfig", "deadLetterTargetArn")
_ESM = "AWS::Lambda::EventSourceMapping"

# Values for absent properties. AWS::Lambda::Function's documented defaults are MemorySize
# 128 and Timeout 3. Fargate requires Cpu and Memory on the task definition, so a missing
# one is read as the smallest Fargate size (256 CPU units, 512 MiB): an assumption.
LAMBDA_DEFAULT_MEMORY_MIB = 128
LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3.0
FARGATE_DEFAULT_CPU_UNITS = 256
FARGATE_DEFAULT_MEMORY_MIB = 512


@dataclass(frozen=True, kw_only=True)
class ResourceModel:
    logical_id: str
    type: str
    path: str
    """The construct path (``aws:cdk:path``), else the logical id."""
    role: str | None
    """The ``AsyncTasks.role`` metadata our constructs set, if any."""
    task: str | None
    """The ``AsyncTasks.task`` metadata: the one task a resource serves, if it says."""
    failure_targets: frozenset[str]
    """Logical ids its DeadLetterConfig, DestinationConfig or redrive policy names."""
    for_function: str | None
    """The function its ``FunctionName`` refers to (event source mappings, invoke configs)."""


@dataclass(frozen=True, kw_only=True)
class FunctionModel(ResourceModel):
    """AWS::Lambda::Function."""

    memory_mib: int
    timeout_seconds: float
    architecture: str
    """``arm64`` or ``x86_64``."""
    in_vpc: bool
    reserved_concurrency: int | None
    max_concurrency: int | None
    """The first SQS event source mapping's ScalingConfig.MaximumConcurrency, if any."""
    event_sources: int
    """SQS event source mappings that feed it."""

    @property
    def memory_gb(self) -> float:
        return self.memory_mib / 1024


@dataclass(frozen=True, kw_only=True)
class ServiceModel(ResourceModel):
    """AWS::ECS::Service on Fargate, with its task definition's size and its scaling."""

    vcpu: float
    memory_gb: float
    architecture: str
    """``arm64`` or ``x86_64``."""
    desired_count: int | None
    """None when the template leaves DesiredCount out (ECS then keeps the minimum)."""
    public_ip: bool
    load_balanced: bool
    scaling: ScalingReading | None
    """None when no Application Auto Scaling target acts on the service."""


@dataclass(frozen=True, kw_only=True)
class QueueModel(ResourceModel):
    """AWS::SQS::Queue."""

    dead_letter: bool
    """Only failures land here (some resource names it as where failures go)."""
    event_source_mappings: int
    """Lambda event source mappings that poll it."""


@dataclass(frozen=True, kw_only=True)
class EventSourceMappingModel(ResourceModel):
    source: str | None
    """The queue (or stream) its EventSourceArn refers to."""


@dataclass(frozen=True, kw_only=True)
class AlarmModel(ResourceModel):
    custom_metrics: frozenset[tuple[str, str]]
    """(namespace, name) of a metric outside ``AWS/`` that it watches."""


@dataclass(frozen=True, kw_only=True)
class ScalingPolicyModel(ResourceModel):
    target_tracking: bool
    custom_metrics: frozenset[tuple[str, str]]
    """(namespace, name) of a customized metric outside ``AWS/`` that it tracks."""


@dataclass(frozen=True, kw_only=True)
class ScheduleModel(ResourceModel):
    """AWS::Scheduler::Schedule."""

    expression: str | None
    enabled: bool


@dataclass(frozen=True, kw_only=True)
class ClusterModel(ResourceModel):
    container_insights: bool


@dataclass(frozen=True, kw_only=True)
class TableModel(ResourceModel):
    """AWS::DynamoDB::Table or GlobalTable."""

    billing_mode: str | None

    @property
    def on_demand(self) -> bool:
        return self.billing_mode == "PAY_PER_REQUEST"


@dataclass(frozen=True, kw_only=True)
class LoadBalancerModel(ResourceModel):
    application: bool
    """An ALB (the default Type); network and gateway load balancers are not modelled."""


@dataclass(frozen=True, kw_only=True)
class EndpointModel(ResourceModel):
    """AWS::EC2::VPCEndpoint."""

    interface: bool
    """Interface endpoints are billed; gateway endpoints (S3, DynamoDB) are free."""
    zones: int
    """Subnets it has a network interface in (1 when the template does not list them)."""
    service_name: str
    """Its ServiceName as JSON (a string or an Fn::Join)."""


def failure_targets(value: object) -> set[str]:
    """Ids under keys that name where failures go, anywhere in a property value."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            found |= referenced_ids(inner) if key in _FAILURE_KEYS else failure_targets(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= failure_targets(inner)
    return found


def dead_letter_queue_ids(template: StackTemplate) -> frozenset[str]:
    """Queues that only ever receive failures: redrive DLQs, delivery and invocation DLQs."""
    queues = {q.logical_id for q in template.of_type("AWS::SQS::Queue")}
    found: set[str] = set()
    for resource in template.resources.values():
        found |= failure_targets(resource.properties)
    return frozenset(found & queues)


def event_source_mappings(template: StackTemplate, function_id: str) -> list[Resource]:
    return [
        m
        for m in template.of_type(_ESM)
        if ref_target(m.properties.get("FunctionName")) == function_id
        or function_id in referenced_ids(m.properties.get("FunctionName"))
    ]


def _common(resource: Resource) -> dict[str, Any]:
    task = resource.meta(TASK_DETAIL)
    return {
        "logical_id": resource.logical_id,
        "type": resource.type,
        "path": resource.path,
        "role": resource.role,
        "task": str(task) if task else None,
        "failure_targets": frozenset(failure_targets(resource.properties)),
        "for_function": ref_target(resource.properties.get("FunctionName")),
    }


def _custom_metric(spec: object) -> tuple[str, str] | None:
    if not isinstance(spec, Mapping):
        return None
    namespace, name = spec.get("Namespace"), spec.get("MetricName")
    if isinstance(namespace, str) and isinstance(name, str) and not namespace.startswith("AWS/"):
        return namespace, name
    return None


def _custom_metrics(props: Mapping[str, Any]) -> frozenset[tuple[str, str]]:
    tracking = props.get("TargetTrackingScalingPolicyConfiguration", {})
    specs = (
        props,
        tracking.get("CustomizedMetricSpecification") if isinstance(tracking, dict) else None,
    )
    return frozenset(m for spec in specs if (m := _custom_metric(spec)))


def _optional_int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _function(template: StackTemplate, resource: Resource, common: dict[str, Any]) -> FunctionModel:
    props = resource.properties
    mappings = event_source_mappings(template, resource.logical_id)
    caps = [m.properties.get("ScalingConfig", {}).get("MaximumConcurrency") for m in mappings]
    return FunctionModel(
        **common,
        memory_mib=int(number(props.get("MemorySize"), LAMBDA_DEFAULT_MEMORY_MIB)),
        timeout_seconds=number(props.get("Timeout"), LAMBDA_DEFAULT_TIMEOUT_SECONDS),
        architecture="arm64" if "arm64" in props.get("Architectures", []) else "x86_64",
        in_vpc="VpcConfig" in props,
        reserved_concurrency=_optional_int(props.get("ReservedConcurrentExecutions")),
        max_concurrency=next((cap for cap in caps if isinstance(cap, int)), None),
        event_sources=len(mappings),
    )


def _service(template: StackTemplate, resource: Resource, common: dict[str, Any]) -> ServiceModel:
    props = resource.properties
    definition = template.get(ref_target(props.get("TaskDefinition")))
    size = definition.properties if definition is not None else {}
    platform = size.get("RuntimePlatform", {})
    network = props.get("NetworkConfiguration", {}).get("AwsvpcConfiguration", {})
    return ServiceModel(
        **common,
        vcpu=number(size.get("Cpu"), FARGATE_DEFAULT_CPU_UNITS) / 1024,
        memory_gb=number(size.get("Memory"), FARGATE_DEFAULT_MEMORY_MIB) / 1024,
        architecture="arm64" if platform.get("CpuArchitecture") == "ARM64" else "x86_64",
        desired_count=(int(number(props["DesiredCount"], 1)) if "DesiredCount" in props else None),
        public_ip=network.get("AssignPublicIp") == "ENABLED",
        load_balanced=bool(props.get("LoadBalancers")),
        scaling=scaling_reading(template, resource),
    )


def resource_model(
    template: StackTemplate, resource: Resource, dead_letter: frozenset[str]
) -> ResourceModel:
    """The typed record of one resource of ``template``."""
    props = resource.properties
    common = _common(resource)
    match resource.type:
        case "AWS::Lambda::Function":
            return _function(template, resource, common)
        case "AWS::ECS::Service":
            return _service(template, resource, common)
        case "AWS::SQS::Queue":
            return QueueModel(
                **common,
                dead_letter=resource.logical_id in dead_letter,
                event_source_mappings=len(template.referrers(resource.logical_id, _ESM)),
            )
        case "AWS::Lambda::EventSourceMapping":
            return EventSourceMappingModel(**common, source=ref_target(props.get("EventSourceArn")))
        case "AWS::CloudWatch::Alarm":
            return AlarmModel(**common, custom_metrics=_custom_metrics(props))
        case "AWS::ApplicationAutoScaling::ScalingPolicy":
            return ScalingPolicyModel(
                **common,
                target_tracking="TargetTrackingScalingPolicyConfiguration" in props,
                custom_metrics=_custom_metrics(props),
            )
        case "AWS::Scheduler::Schedule":
            expression = props.get("ScheduleExpression")
            return ScheduleModel(
                **common,
                expression=expression if isinstance(expression, str) else None,
                enabled=props.get("State") != "DISABLED",
            )
        case "AWS::ECS::Cluster":
            settings = props.get("ClusterSettings") or []
            return ClusterModel(
                **common,
                container_insights=any(
                    s.get("Name") == "containerInsights"
                    and s.get("Value") in ("enabled", "enhanced")
                    for s in settings
                    if isinstance(s, dict)
                ),
            )
        case "AWS::DynamoDB::Table" | "AWS::DynamoDB::GlobalTable":
            mode = props.get("BillingMode")
            return TableModel(**common, billing_mode=mode if isinstance(mode, str) else None)
        case "AWS::ElasticLoadBalancingV2::LoadBalancer":
            return LoadBalancerModel(
                **common, application=props.get("Type", "application") == "application"
            )
        case "AWS::EC2::VPCEndpoint":
            subnets = props.get("SubnetIds", [])
            return EndpointModel(
                **common,
                interface=props.get("VpcEndpointType") == "Interface",
                zones=len(subnets) if isinstance(subnets, list) and subnets else 1,
                service_name=json.dumps(props.get("ServiceName")),
            )
    return ResourceModel(**common)
