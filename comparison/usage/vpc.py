"""VPC networking: NAT gateways (hours and GB), interface endpoints (AZ-hours and GB) and
Elastic IPs. AWS API traffic of consumers inside the VPC goes through the interface
endpoints when the stack has any, otherwise through the NAT gateways."""

from __future__ import annotations

from comparison.assumptions import HOURS_PER_MONTH
from comparison.routing import ConsumerKind
from comparison.templates import Resource
from comparison.usage.registry import Usage, UsageContext, extracts

_GB = 1e9


def _interface_endpoints(context: UsageContext) -> list[Resource]:
    return [
        r
        for r in context.template.of_type("AWS::EC2::VPCEndpoint")
        if r.properties.get("VpcEndpointType") == "Interface"
    ]


def vpc_traffic_gb(context: UsageContext) -> float:
    """Monthly GB between in-VPC consumers and AWS APIs: payload, overhead and idle polls."""
    a = context.assumptions
    total = 0.0
    for consumer in context.routing.consumers:
        in_vpc = (
            consumer.kind is not ConsumerKind.LAMBDA or "VpcConfig" in consumer.resource.properties
        )
        if not in_vpc:
            continue
        for name in consumer.tasks:
            task = context.workload.task(name)
            total += task.volume_per_month * (
                task.payload_kib * 1024 + a.api_overhead_bytes_per_task
            )
        run = context.runs.get(consumer.logical_id)
        if run is not None and consumer.queues:
            poll_minutes = context.monthly(run.unit_seconds) / 60 * consumer.threads_per_unit
            total += poll_minutes * 60 / a.long_poll_seconds * a.bytes_per_idle_receive
    return total / _GB


@extracts("AWS::EC2::NatGateway")
def nat_gateway(resource: Resource, context: UsageContext) -> list[Usage]:
    usages = [Usage("nat.hour", HOURS_PER_MONTH, resource.logical_id, "a NAT gateway all month")]
    if not _interface_endpoints(context):
        share = 1 / len(context.template.of_type("AWS::EC2::NatGateway"))
        usages.append(
            Usage(
                "nat.gb",
                vpc_traffic_gb(context) * share,
                resource.logical_id,
                "AWS API traffic of in-VPC consumers",
            )
        )
    return usages


@extracts("AWS::EC2::VPCEndpoint")
def interface_endpoint(resource: Resource, context: UsageContext) -> list[Usage]:
    if resource.properties.get("VpcEndpointType") != "Interface":
        return []  # gateway endpoints (S3, DynamoDB) are free
    subnets = resource.properties.get("SubnetIds", [])
    zones = len(subnets) if isinstance(subnets, list) and subnets else 1
    endpoints = _interface_endpoints(context)
    return [
        Usage(
            "vpce.az_hour", zones * HOURS_PER_MONTH, resource.logical_id, f"{zones} AZ(s) all month"
        ),
        Usage(
            "vpce.gb",
            vpc_traffic_gb(context) / len(endpoints),
            resource.logical_id,
            "AWS API traffic of in-VPC consumers, shared among the endpoints",
        ),
    ]


@extracts("AWS::EC2::EIP")
def elastic_ip(resource: Resource, context: UsageContext) -> list[Usage]:
    return [Usage("ipv4.hour", HOURS_PER_MONTH, resource.logical_id, "an Elastic IP all month")]
