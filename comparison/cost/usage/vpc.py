"""VPC networking: NAT gateways, Elastic IPs and interface endpoints (hours and GB).

The network belongs to the baseline (:mod:`comparison.cost.baseline`): under the ``shared``
network choice the option's tasks run in the web app's VPC, so only the data they add
is charged (AWS API traffic and image pulls). Under ``dedicated`` an option with its
own in-VPC compute (anything but the web app's tasks) pays its NAT gateway, Elastic IP
and interface endpoints in full. Traffic goes through the interface endpoints when the
stack has any, otherwise through the NAT gateways.
"""

from __future__ import annotations

from comparison.cost.usage.registry import Usage, UsageContext, extracts_stack
from comparison.inputs.assumptions import HOURS_PER_MONTH
from comparison.inputs.workload import Network
from comparison.model.routing import ConsumerKind, in_vpc
from comparison.model.topology import NetworkModel

_GB = 1e9
_MIB = 1024 * 1024


def network_hours(network: NetworkModel) -> list[Usage]:
    """What a stack's network costs per month before any traffic: NAT, EIPs, endpoints."""
    nats = [
        Usage("nat.hour", HOURS_PER_MONTH, nat, "a NAT gateway all month")
        for nat in network.nat_gateways
    ]
    addresses = [
        Usage("ipv4.hour", HOURS_PER_MONTH, eip, "an Elastic IP all month")
        for eip in network.elastic_ips
    ]
    endpoints = [
        Usage(
            "vpce.az_hour",
            endpoint.zones * HOURS_PER_MONTH,
            endpoint.logical_id,
            f"{endpoint.zones} AZ(s) all month",
        )
        for endpoint in network.interface_endpoints
    ]
    return nats + addresses + endpoints


def brings_own_network(context: UsageContext) -> bool:
    """Under ``dedicated``, an option whose own compute runs in a VPC pays for a network."""
    return context.workload.network is Network.DEDICATED and any(
        in_vpc(c) and c.kind is not ConsumerKind.WEBAPP for c in context.routing.consumers
    )


def vpc_traffic_gb(context: UsageContext) -> float:
    """Monthly GB between in-VPC consumers and AWS APIs: payload, overhead and idle polls."""
    a = context.assumptions
    total = 0.0
    for consumer in context.routing.consumers:
        if not in_vpc(consumer):
            continue
        for name in consumer.tasks:
            task = context.workload.task(name)
            total += task.volume_per_month * (
                task.payload_kib * 1024 + a.api_overhead_bytes_per_task
            )
        total += context.idle_receives(consumer) * a.bytes_per_idle_receive
    return total / _GB


def image_pull_gb(context: UsageContext) -> float:
    """NAT gateway bytes of the image pulls: every Fargate task start pulls the image.

    ECR serves image layers from S3 ("Amazon ECR interface VPC endpoints (AWS
    PrivateLink)": the layers are downloaded from Amazon S3), so with an S3 endpoint (the
    free gateway one with ``network=nat``) only the ECR API calls pass the NAT gateway;
    with ``ecr.dkr`` and ``ecr.api`` endpoints too, nothing does."""
    network = context.model.network
    if network.pulls_through_endpoints:
        return 0.0
    starts = sum(context.extra_starts(c) for c in context.routing.consumers)
    if network.layers_through_s3_endpoint:
        return starts * context.assumptions.ecr_api_kib_per_pull * 1024 / _GB
    return starts * context.workload.image_mib * _MIB / _GB


@extracts_stack
def network_usage(context: UsageContext) -> list[Usage]:
    network = context.model.network
    nats, endpoints = network.nat_gateways, network.interface_endpoints
    usages = network_hours(network) if brings_own_network(context) else []
    traffic = vpc_traffic_gb(context)
    if endpoints:
        usages += [
            Usage("vpce.gb", traffic / len(endpoints), e.logical_id, "AWS API traffic of tasks")
            for e in endpoints
        ]
    elif nats:
        usages += [
            Usage("nat.gb", traffic / len(nats), n, "AWS API traffic of tasks") for n in nats
        ]
    pulls = image_pull_gb(context)
    if nats and pulls:
        note = (
            f"image pulls: ECR API calls, {context.assumptions.ecr_api_kib_per_pull:g} KiB per "
            "task start (the layers come through the S3 gateway endpoint)"
            if network.layers_through_s3_endpoint
            else f"image pulls: {context.workload.image_mib:g} MiB per task start"
        )
        usages += [Usage("nat.gb", pulls / len(nats), n, note) for n in nats]
    return usages
