"""TaskNetwork: NAT or VPC endpoints for AWS APIs, flow logs, the cluster, an existing VPC.

Each test names the AWS documentation page that says why the setting matters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Template
from constructs import IConstruct

from stacks.topologies import new_app
from task_constructs.task_network import (
    _INTERFACE_ENDPOINTS,
    AwsApiAccess,
    ExistingVpc,
    TaskNetwork,
    TaskNetworkProps,
)
from tests.conftest import cdk_json_context


@dataclass(frozen=True)
class Synth:
    stack: Stack
    network: TaskNetwork
    template: Template

    def id(self, construct: IConstruct) -> str:
        return self.stack.get_logical_id(construct.node.default_child)  # type: ignore[arg-type]

    def resources(self, kind: str) -> dict[str, Any]:
        return dict(self.template.find_resources(kind))

    def task_subnets(self) -> list[ec2.ISubnet]:
        selection = self.network.task_subnets
        return list(self.network.vpc.select_subnets(subnet_type=selection.subnet_type).subnets)

    def task_subnet_refs(self) -> list[Any]:
        return [self.stack.resolve(subnet.subnet_id) for subnet in self.task_subnets()]

    def task_route_table_refs(self) -> list[Any]:
        return [
            self.stack.resolve(subnet.route_table.route_table_id) for subnet in self.task_subnets()
        ]


def _synth(props: TaskNetworkProps | None = None) -> Synth:
    """As the ``stack`` fixture, for a module-scoped fixture: one synth for many tests."""
    stack = Stack(new_app(context=cdk_json_context()), "Test")
    network = TaskNetwork(stack, "Net", props)
    return Synth(stack, network, Template.from_stack(stack))


def _service_name(suffix: str) -> dict[str, Any]:
    """``com.amazonaws.<region>.<suffix>`` in an environment-agnostic stack."""
    return {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, f".{suffix}"]]}


@pytest.fixture(scope="module")
def nat() -> Synth:
    return _synth()


@pytest.fixture(scope="module")
def endpoints() -> Synth:
    return _synth(TaskNetworkProps(aws_api_access=AwsApiAccess.ENDPOINTS))


@pytest.fixture(scope="module", params=["nat", "endpoints"])
def new_vpc(request: pytest.FixtureRequest) -> Synth:
    """Either new VPC: what both must have."""
    return request.getfixturevalue(request.param)


# --- Either new VPC -------------------------------------------------------------


def test_tasks_run_in_two_private_subnets_in_two_zones(new_vpc: Synth) -> None:
    # "Amazon ECS task networking options for the Fargate launch type": each task gets an ENI
    # in a subnet of the service's; two zones keep the service up when one zone fails.
    subnets = new_vpc.resources("AWS::EC2::Subnet")
    tasks = [subnets[ref["Ref"]]["Properties"] for ref in new_vpc.task_subnet_refs()]
    assert len(tasks) == 2
    assert [props["AvailabilityZone"] for props in tasks] == [
        {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
        {"Fn::Select": [1, {"Fn::GetAZs": ""}]},
    ]
    assert all(props["MapPublicIpOnLaunch"] is False for props in tasks)


def test_vpc_has_dns_support_and_hostnames(new_vpc: Synth) -> None:
    # "DNS attributes for your VPC": private DNS names of interface endpoints (and AWS's
    # public endpoint names through NAT) resolve only with both attributes on.
    (vpc,) = new_vpc.resources("AWS::EC2::VPC").values()
    assert vpc["Properties"]["EnableDnsSupport"] is True
    assert vpc["Properties"]["EnableDnsHostnames"] is True


def test_rejected_traffic_goes_to_a_flow_log_kept_30_days(new_vpc: Synth) -> None:
    # "Publish flow logs to CloudWatch Logs": a flow log on the VPC, a log group, and a role
    # that vpc-flow-logs.amazonaws.com assumes to create streams and put events in it.
    network = new_vpc.network
    (flow_log,) = new_vpc.resources("AWS::EC2::FlowLog").values()
    log_group_id = new_vpc.id(network.node.find_child("FlowLogs"))
    props = flow_log["Properties"]
    assert props["ResourceType"] == "VPC"
    assert props["ResourceId"] == {"Ref": new_vpc.id(network.vpc)}  # type: ignore[arg-type]
    assert props["TrafficType"] == "REJECT"
    assert props["LogDestinationType"] == "cloud-watch-logs"
    assert props["LogGroupName"] == {"Ref": log_group_id}
    assert new_vpc.resources("AWS::Logs::LogGroup")[log_group_id]["Properties"] == {
        "RetentionInDays": 30
    }
    role_id = props["DeliverLogsPermissionArn"]["Fn::GetAtt"][0]
    role = new_vpc.resources("AWS::IAM::Role")[role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "vpc-flow-logs.amazonaws.com"
    }
    new_vpc.template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": role_id}],
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": [
                            "logs:CreateLogStream",
                            "logs:DescribeLogStreams",
                            "logs:PutLogEvents",
                        ],
                        "Effect": "Allow",
                        "Resource": {"Fn::GetAtt": [log_group_id, "Arn"]},
                    }
                ]
            },
        },
    )


def test_default_security_group_is_stripped_of_its_rules(new_vpc: Synth) -> None:
    # "Default security groups for your VPCs": the default group allows all traffic between
    # its members; AWS Security Hub control EC2.2 expects it to allow none.
    (restrict,) = new_vpc.resources("Custom::VpcRestrictDefaultSG").values()
    assert restrict["Properties"]["DefaultSecurityGroupId"] == {
        "Fn::GetAtt": [new_vpc.id(new_vpc.network.vpc), "DefaultSecurityGroup"]  # type: ignore[arg-type]
    }


def test_cluster_waits_for_the_ecs_service_linked_role(new_vpc: Synth) -> None:
    # "CreateCluster" (ECS API reference) and "Using service-linked roles for Amazon ECS":
    # in a new account the role may not exist yet, and CreateCluster fails with "Unable
    # to assume the service linked role". The custom resource creates it first and takes
    # "already exists" (InvalidInput) as success.
    (role_id, role), *_ = new_vpc.resources("Custom::EcsServiceLinkedRole").items()
    call = json.loads(role["Properties"]["Create"])
    assert call["action"] == "createServiceLinkedRole"
    assert call["parameters"] == {"AWSServiceName": "ecs.amazonaws.com"}
    assert call["ignoreErrorCodesMatching"] == "InvalidInput|EntityAlreadyExists"
    assert "Delete" not in role["Properties"]  # other clusters use the role
    (cluster,) = new_vpc.resources("AWS::ECS::Cluster").values()
    assert role_id in cluster["DependsOn"]


def test_cluster_has_container_insights(new_vpc: Synth) -> None:
    # "AWS::ECS::Cluster ClusterSettings": containerInsights "enabled" turns on Container
    # Insights for the cluster's services and tasks.
    (cluster,) = new_vpc.resources("AWS::ECS::Cluster").values()
    assert cluster["Properties"]["ClusterSettings"] == [
        {"Name": "containerInsights", "Value": "enabled"}
    ]


# --- NAT (default) --------------------------------------------------------------


def test_nat_default_has_one_nat_gateway_in_a_public_subnet(nat: Synth) -> None:
    # "NAT gateways" (VPC User Guide): a public NAT gateway lives in a public subnet, whose
    # route table sends 0.0.0.0/0 to the internet gateway. One gateway: one hourly charge.
    assert nat.network.aws_api_access is AwsApiAccess.NAT
    (gateway,) = nat.resources("AWS::EC2::NatGateway").values()
    public_subnet = gateway["Properties"]["SubnetId"]["Ref"]
    subnet_tags = nat.resources("AWS::EC2::Subnet")[public_subnet]["Properties"]["Tags"]
    assert {"Key": "aws-cdk:subnet-type", "Value": "Public"} in subnet_tags
    nat.template.resource_count_is("AWS::EC2::InternetGateway", 1)
    assert _interface_endpoints(nat) == []


def test_nat_public_subnets_assign_no_public_ip(nat: Synth) -> None:
    # "Modify the public IPv4 addressing attribute for your subnet" (VPC User Guide) and
    # AWS Control Tower's CT.EC2.PR.11: only the NAT gateway lives there, with its own
    # Elastic IP, so nothing launched in the subnet gets a public IP.
    subnets = nat.resources("AWS::EC2::Subnet").values()
    assert [subnet["Properties"]["MapPublicIpOnLaunch"] for subnet in subnets] == [False] * 4


def test_nat_task_subnets_route_internet_traffic_to_the_nat_gateway(nat: Synth) -> None:
    # "NAT gateways": a private subnet reaches AWS APIs through a 0.0.0.0/0 route to the NAT
    # gateway, never to the internet gateway.
    assert nat.network.task_subnets.subnet_type is ec2.SubnetType.PRIVATE_WITH_EGRESS
    (gateway_id,) = nat.resources("AWS::EC2::NatGateway")
    routes = [route["Properties"] for route in nat.resources("AWS::EC2::Route").values()]
    for route_table in nat.task_route_table_refs():
        (default,) = [route for route in routes if route["RouteTableId"] == route_table]
        assert default == {
            "DestinationCidrBlock": "0.0.0.0/0",
            "NatGatewayId": {"Ref": gateway_id},
            "RouteTableId": route_table,
        }


# --- VPC endpoints --------------------------------------------------------------


def test_endpoints_leave_tasks_without_any_internet_route(endpoints: Synth) -> None:
    # "Subnets for your VPC": a subnet with no route to an internet or NAT gateway is isolated.
    assert endpoints.network.task_subnets.subnet_type is ec2.SubnetType.PRIVATE_ISOLATED
    endpoints.template.resource_count_is("AWS::EC2::NatGateway", 0)
    endpoints.template.resource_count_is("AWS::EC2::InternetGateway", 0)
    endpoints.template.resource_count_is("AWS::EC2::EIP", 0)
    endpoints.template.resource_count_is("AWS::EC2::Route", 0)


@pytest.mark.parametrize(
    "suffix",
    ["s3", "dynamodb"],
)
def test_either_vpc_has_a_gateway_endpoint_on_the_task_route_tables(
    new_vpc: Synth, suffix: str
) -> None:
    # "Gateway endpoints for Amazon S3" and "Gateway endpoints for Amazon DynamoDB": the
    # endpoint adds a prefix-list route to each route table it is associated with, and
    # gateway endpoints have no charge. With a NAT too, S3 (uploads and the image
    # layers, which ECR serves from S3: "Amazon ECR interface VPC endpoints (AWS
    # PrivateLink)") and DynamoDB traffic then skips the NAT's per-GB processing.
    new_vpc.template.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {
            "ServiceName": _service_name(suffix),
            "VpcEndpointType": "Gateway",
            "RouteTableIds": new_vpc.task_route_table_refs(),
        },
    )


def _interface_endpoints(synth: Synth) -> list[dict[str, Any]]:
    return [
        endpoint["Properties"]
        for endpoint in synth.resources("AWS::EC2::VPCEndpoint").values()
        if endpoint["Properties"]["VpcEndpointType"] == "Interface"
    ]


def test_endpoints_add_every_interface_endpoint_the_module_lists(endpoints: Synth) -> None:
    # "Access an AWS service using an interface VPC endpoint": one endpoint per service name.
    names = [props["ServiceName"] for props in _interface_endpoints(endpoints)]
    assert len(names) == len(_INTERFACE_ENDPOINTS)
    for service in _INTERFACE_ENDPOINTS.values():
        assert _service_name(service.short_name) in names


def test_endpoints_cover_what_a_fargate_task_needs_to_pull_its_image_and_log(
    endpoints: Synth,
) -> None:
    # "Amazon ECR interface VPC endpoints (AWS PrivateLink)": Fargate tasks pulling from ECR
    # need ecr.dkr and ecr.api, plus the S3 gateway endpoint (image layers are in S3), and the
    # CloudWatch Logs endpoint for the awslogs driver.
    names = [props["ServiceName"] for props in _interface_endpoints(endpoints)]
    for suffix in ("ecr.dkr", "ecr.api", "logs"):
        assert _service_name(suffix) in names
    endpoints.template.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {"ServiceName": _service_name("s3"), "VpcEndpointType": "Gateway"},
    )


def test_interface_endpoints_use_private_dns_in_both_task_subnets(endpoints: Synth) -> None:
    # "Access an AWS service using an interface VPC endpoint": with private DNS the SDKs'
    # default endpoint names resolve to the endpoint, so task code needs no endpoint URL;
    # an ENI in each task subnet's zone keeps traffic in-zone.
    subnets = endpoints.task_subnet_refs()
    for props in _interface_endpoints(endpoints):
        assert props["PrivateDnsEnabled"] is True
        assert props["SubnetIds"] == subnets


def test_interface_endpoints_admit_https_from_the_vpc(endpoints: Synth) -> None:
    # "Amazon ECR interface VPC endpoints (AWS PrivateLink)": the endpoint's security group must
    # allow incoming connections on port 443 from the VPC's private subnets.
    groups = endpoints.resources("AWS::EC2::SecurityGroup")
    vpc_cidr = {"Fn::GetAtt": [endpoints.id(endpoints.network.vpc), "CidrBlock"]}  # type: ignore[arg-type]
    for props in _interface_endpoints(endpoints):
        ((group_id, _),) = [ref["Fn::GetAtt"] for ref in props["SecurityGroupIds"]]
        (ingress,) = groups[group_id]["Properties"]["SecurityGroupIngress"]
        assert (ingress["IpProtocol"], ingress["FromPort"], ingress["ToPort"]) == ("tcp", 443, 443)
        assert ingress["CidrIp"] == vpc_cidr


# --- Zones and an existing VPC ---------------------------------------------------


def test_new_vpc_uses_the_zones_given(stack: Stack) -> None:
    # "AWS::EC2::Subnet" AvailabilityZone: named zones need no lookup (no credentials).
    TaskNetwork(stack, "Net", TaskNetworkProps(availability_zones=["eu-west-2a", "eu-west-2c"]))
    zones = {
        subnet["Properties"]["AvailabilityZone"]
        for subnet in Template.from_stack(stack).find_resources("AWS::EC2::Subnet").values()
    }
    assert zones == {"eu-west-2a", "eu-west-2c"}


def test_existing_vpc_is_used_as_is(stack: Stack) -> None:
    # "Amazon ECS task networking options for the Fargate launch type": tasks get ENIs in the
    # subnets given; the existing VPC's own routing decides how they reach AWS APIs, so no
    # VPC, gateway, endpoint or flow log is created even with ENDPOINTS asked for; only the
    # cluster and the custom resource (its handler, role and log group) that creates the
    # ECS service-linked role before it.
    network = TaskNetwork(
        stack,
        "Net",
        TaskNetworkProps(
            aws_api_access=AwsApiAccess.ENDPOINTS,
            existing_vpc=ExistingVpc(
                vpc_id="vpc-0123456789abcdef0",
                availability_zones=["eu-west-2a", "eu-west-2b"],
                private_subnet_ids=["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"],
            ),
        ),
    )
    assert network.vpc.vpc_id == "vpc-0123456789abcdef0"
    selected = network.vpc.select_subnets(subnet_type=network.task_subnets.subnet_type)
    assert selected.subnet_ids == ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
    kinds = {
        resource["Type"] for resource in Template.from_stack(stack).to_json()["Resources"].values()
    }
    assert kinds == {
        "AWS::ECS::Cluster",
        "Custom::EcsServiceLinkedRole",
        "AWS::Lambda::Function",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::Logs::LogGroup",
    }


def test_existing_vpc_needs_one_subnet_per_zone() -> None:
    # "Subnets for your VPC": each subnet lies in exactly one Availability Zone.
    with pytest.raises(ValueError, match=r"give one private subnet per availability zone"):
        ExistingVpc(
            vpc_id="vpc-0123456789abcdef0",
            availability_zones=["eu-west-2a", "eu-west-2b"],
            private_subnet_ids=["subnet-0aaaaaaaaaaaaaaaa"],
        )
