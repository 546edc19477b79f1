"""Shared network: a 2-AZ VPC whose private subnets hold the tasks, and the ECS cluster.

How tasks reach AWS APIs is a choice with a monthly price, so it is a prop:
- ``nat`` (default): one NAT gateway (~$36.50/month + $0.05/GB in eu-west-2); tasks
  can also reach SES and any other public AWS endpoint. S3 and DynamoDB traffic takes
  their gateway endpoints (free), not the NAT: upload reads, ledger calls and the image
  layers, which ECR serves from S3 ("Amazon ECR interface VPC endpoints
  (AWS PrivateLink)": "Amazon ECR uses Amazon S3 to store your image layers");
- ``endpoints``: no internet route at all; gateway endpoints for S3 and DynamoDB (free)
  and interface endpoints in both AZs for what the tasks call: ECR (api and dkr) and
  the S3 gateway to pull the image, CloudWatch Logs for the awslogs driver, SQS, and
  ECS for task scale-in protection ("Amazon ECS interface VPC endpoints" and "Amazon
  ECR interface VPC endpoints"), plus CloudWatch. The README prices them from the
  template. SES's sending API has no VPC endpoint, so ``emailSender`` needs ``nat``.
An existing VPC can be imported instead through context, without AWS lookups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from constructs import Construct

from task_constructs.core.acknowledge import acknowledge_resource
from task_constructs.core.ecs_service_linked_role import ecs_service_linked_role


class AwsApiAccess(Enum):
    NAT = "nat"
    ENDPOINTS = "endpoints"


_INTERFACE_ENDPOINTS = {
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "Monitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
    "Sqs": ec2.InterfaceVpcEndpointAwsService.SQS,
    # Task scale-in protection: the ECS agent calls ecs:UpdateTaskProtection with the
    # task role. AWS's Fargate page does not say whether that call leaves through the
    # task's ENI; the endpoint makes it work either way (not checked on a live task).
    "Ecs": ec2.InterfaceVpcEndpointAwsService.ECS,
}


@dataclass(frozen=True, kw_only=True)
class ExistingVpc:
    """An existing VPC, described by ids so synth needs no AWS credentials."""

    vpc_id: str
    availability_zones: Sequence[str]
    private_subnet_ids: Sequence[str]

    def __post_init__(self) -> None:
        if len(self.availability_zones) != len(self.private_subnet_ids):
            raise ValueError(
                f"existing VPC {self.vpc_id}: give one private subnet per availability zone; "
                f"got {len(self.private_subnet_ids)} subnets for "
                f"{len(self.availability_zones)} zones"
            )


@dataclass(frozen=True, kw_only=True)
class TaskNetworkProps:
    aws_api_access: AwsApiAccess = AwsApiAccess.NAT
    """How tasks in private subnets reach AWS APIs. Default: one NAT gateway."""

    existing_vpc: ExistingVpc | None = None
    """Use this VPC instead of creating one. ``aws_api_access`` is then ignored: the
    existing VPC's routing decides. Default: a new 2-AZ VPC."""

    availability_zones: Sequence[str] | None = None
    """Zones of a new VPC. Default: two of the stack's zones, which in a stack with a
    concrete account the CDK CLI looks up (and so needs credentials)."""


class TaskNetwork(Construct):
    """The VPC, the tasks' subnet selection and the ECS cluster."""

    def __init__(
        self, scope: Construct, construct_id: str, props: TaskNetworkProps | None = None
    ) -> None:
        super().__init__(scope, construct_id)
        props = props if props is not None else TaskNetworkProps()
        self.aws_api_access = props.aws_api_access
        self._zones = list(props.availability_zones) if props.availability_zones else None
        if props.existing_vpc is not None:
            existing = props.existing_vpc
            self.vpc: ec2.IVpc = ec2.Vpc.from_vpc_attributes(
                self,
                "Vpc",
                vpc_id=existing.vpc_id,
                availability_zones=list(existing.availability_zones),
                private_subnet_ids=list(existing.private_subnet_ids),
            )
            self.task_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        elif props.aws_api_access is AwsApiAccess.NAT:
            self.vpc = self._new_vpc(nat_gateways=1, private=ec2.SubnetType.PRIVATE_WITH_EGRESS)
            self.task_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        else:
            isolated = self._new_vpc(nat_gateways=0, private=ec2.SubnetType.PRIVATE_ISOLATED)
            self.vpc = isolated
            self.task_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
            self._add_interface_endpoints(isolated)
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=self.vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )
        self.cluster.node.add_dependency(ecs_service_linked_role(self, "EcsServiceLinkedRole"))

    def _new_vpc(self, *, nat_gateways: int, private: ec2.SubnetType) -> ec2.Vpc:
        subnets = [ec2.SubnetConfiguration(name="Tasks", subnet_type=private, cidr_mask=22)]
        if nat_gateways:
            subnets.insert(
                0,
                # Only the NAT gateway lives here, with its own Elastic IP: nothing
                # launched in it needs a public IP (Control Tower CT.EC2.PR.11).
                ec2.SubnetConfiguration(
                    name="Public",
                    subnet_type=ec2.SubnetType.PUBLIC,
                    map_public_ip_on_launch=False,
                ),
            )
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=None if self._zones else 2,
            availability_zones=self._zones,
            nat_gateways=nat_gateways,
            subnet_configuration=subnets,
            restrict_default_security_group=True,
        )
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=logs.RetentionDays.ONE_MONTH)
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        # Gateway endpoints cost nothing and keep the tasks' S3 and DynamoDB traffic
        # off the NAT gateway.
        tasks = [ec2.SubnetSelection(subnet_type=private)]
        vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=tasks)
        vpc.add_gateway_endpoint(
            "DynamoDb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets=tasks
        )
        return vpc

    def add_aws_api_endpoint(self, name: str, service: ec2.InterfaceVpcEndpointAwsService) -> None:
        """One more AWS API the tasks call: an interface endpoint when this network
        reaches AWS through endpoints (a new VPC with ``endpoints``); otherwise the NAT
        or the existing VPC's routing already reaches it, and nothing is added."""
        if self.aws_api_access is AwsApiAccess.ENDPOINTS and isinstance(self.vpc, ec2.Vpc):
            self._add_interface_endpoint(self.vpc, name, service)

    def _add_interface_endpoints(self, vpc: ec2.Vpc) -> None:
        for name, service in _INTERFACE_ENDPOINTS.items():
            self._add_interface_endpoint(vpc, name, service)

    def _add_interface_endpoint(
        self, vpc: ec2.Vpc, name: str, service: ec2.InterfaceVpcEndpointAwsService
    ) -> None:
        endpoint = vpc.add_interface_endpoint(name, service=service, subnets=self.task_subnets)
        for group in endpoint.connections.security_groups:
            acknowledge_resource(
                group,
                "AwsSolutions-EC23",
                "Admits HTTPS from the VPC's own CIDR only (a token the rule cannot "
                "read): the endpoint serves the tasks inside the VPC.",
            )
