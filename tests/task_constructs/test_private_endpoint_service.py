"""PrivateEndpointService: internal ALB, routing, access, scaling and the invoker."""

from __future__ import annotations

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk.assertions import Match, Template

from runtime.contract import ENDPOINT_CONCURRENCY_ENV, ENDPOINT_WORKERS_DETAIL, METADATA_KEY
from task_constructs.private_endpoint_service import (
    PrivateEndpointService,
    PrivateEndpointServiceProps,
)
from tests.conftest import empty_stack
from tests.task_constructs.conftest import new_cluster, registry_image


def _endpoints(
    stack: Stack, cluster: ecs.Cluster, image: ecs.ContainerImage
) -> PrivateEndpointService:
    return PrivateEndpointService(
        stack,
        "Endpoints",
        PrivateEndpointServiceProps(
            cluster=cluster,
            image=image,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        ),
    )


@pytest.fixture
def endpoints(
    stack: Stack, cluster: ecs.Cluster, image: ecs.ContainerImage
) -> PrivateEndpointService:
    return _endpoints(stack, cluster, image)


@pytest.fixture(scope="module")
def built() -> tuple[Stack, PrivateEndpointService]:
    """The service, built once (~0.2 s of jsii calls) for the tests that only read it."""
    stack = empty_stack()
    return stack, _endpoints(stack, new_cluster(stack), registry_image())


def test_load_balancer_is_internal(
    built: tuple[Stack, PrivateEndpointService],
) -> None:
    stack, _ = built
    Template.from_stack(stack).has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer", {"Scheme": "internal"}
    )


def test_routes_post_tasks_to_the_service_and_404s_the_rest(
    built: tuple[Stack, PrivateEndpointService],
) -> None:
    stack, _ = built
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
            "Port": 80,
            "DefaultActions": [Match.object_like({"Type": "fixed-response"})],
        },
    )
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::ListenerRule",
        {
            "Conditions": Match.array_with(
                [
                    {
                        "Field": "http-request-method",
                        "HttpRequestMethodConfig": {"Values": ["POST"]},
                    },
                    {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/tasks/*"]}},
                ]
            ),
            "Actions": [Match.object_like({"Type": "forward"})],
        },
    )


def test_health_check_path_and_short_deregistration_delay(
    built: tuple[Stack, PrivateEndpointService],
) -> None:
    stack, _ = built
    Template.from_stack(stack).has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {
            "HealthCheckPath": "/health",
            "TargetGroupAttributes": Match.array_with(
                [{"Key": "deregistration_delay.timeout_seconds", "Value": "15"}]
            ),
        },
    )


def test_only_allowed_clients_reach_the_load_balancer(
    stack: Stack, endpoints: PrivateEndpointService
) -> None:
    # GIVEN a web app security group allowed in
    web = ec2.SecurityGroup(stack, "Web", vpc=endpoints.load_balancer.vpc)  # type: ignore[arg-type]
    endpoints.allow_from(web, "The web app")
    template = Template.from_stack(stack)
    alb_sg = stack.get_logical_id(endpoints.load_balancer_security_group.node.default_child)  # type: ignore[arg-type]
    rules = [
        r["Properties"]
        for r in template.find_resources("AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [alb_sg, "GroupId"]}
    ]
    sources = sorted(r["SourceSecurityGroupId"]["Fn::GetAtt"][0] for r in rules)
    invoker_sg = [s for s in sources if s.startswith("EndpointsInvoker")]
    # THEN exactly the web app and the invoker, on port 80, and no CIDR ingress
    assert len(rules) == 2 and len(invoker_sg) == 1
    assert stack.get_logical_id(web.node.default_child) in sources  # type: ignore[arg-type]
    assert all(r["FromPort"] == 80 and "CidrIp" not in r for r in rules)
    (alb_group,) = [
        g["Properties"]
        for k, g in template.find_resources("AWS::EC2::SecurityGroup").items()
        if k == alb_sg
    ]
    assert "SecurityGroupIngress" not in alb_group


def test_keeps_at_least_one_task_and_tracks_cpu(
    built: tuple[Stack, PrivateEndpointService],
) -> None:
    stack, _ = built
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 1, "MaxCapacity": 4}
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
                    },
                    "TargetValue": 60,
                }
            )
        },
    )


def test_refuses_zero_minimum_tasks(cluster: ecs.Cluster, image: ecs.ContainerImage) -> None:
    with pytest.raises(ValueError, match="min_capacity is 0; an always-on endpoint needs"):
        PrivateEndpointServiceProps(
            cluster=cluster,
            image=image,
            vpc_subnets=ec2.SubnetSelection(),
            min_capacity=0,
        )


def test_invoker_runs_in_the_vpc_retries_twice_then_dead_letters(
    built: tuple[Stack, PrivateEndpointService],
) -> None:
    stack, endpoints = built
    template = Template.from_stack(stack)
    assert endpoints.invoker is not None
    function_id = stack.get_logical_id(endpoints.invoker.node.default_child)  # type: ignore[arg-type]
    function = template.to_json()["Resources"][function_id]["Properties"]
    assert function["Handler"] == "runtime.invoker.handler"
    assert "VpcConfig" in function
    assert function["Environment"]["Variables"]["ENDPOINT_URL"]["Fn::Join"][1][0] == "http://"
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": Match.any_value()}},
        },
    )


def _request_concurrency(endpoints: PrivateEndpointService, stack: Stack) -> tuple[int, int, int]:
    """(gunicorn worker processes, pool threads in each, the ``workers`` metadata)."""
    resources = Template.from_stack(stack).to_json()["Resources"]
    definition = resources[stack.get_logical_id(endpoints.task_definition.node.default_child)]  # type: ignore[arg-type]
    (container,) = definition["Properties"]["ContainerDefinitions"]
    command = container["Command"]
    environment = {v["Name"]: v["Value"] for v in container["Environment"]}
    service = resources[stack.get_logical_id(endpoints.service.node.default_child)]  # type: ignore[arg-type]
    return (
        int(command[command.index("--workers") + 1]),
        int(environment[ENDPOINT_CONCURRENCY_ENV]),
        service["Metadata"][METADATA_KEY][ENDPOINT_WORKERS_DETAIL],
    )


def test_default_request_concurrency_is_four_runs_per_task(
    built: tuple[Stack, PrivateEndpointService],
) -> None:
    # Each gunicorn worker process has its own pool (runtime.web._runner), so a task runs
    # processes x threads at once; that product is what the metadata states.
    stack, endpoints = built
    processes, threads, stated = _request_concurrency(endpoints, stack)
    assert processes * threads == stated == 4
    assert processes == 2  # two processes, so one answers while the other's pool works


def test_an_odd_request_concurrency_runs_in_one_process() -> None:
    stack = empty_stack()
    endpoints = PrivateEndpointService(
        stack,
        "Endpoints",
        PrivateEndpointServiceProps(
            cluster=new_cluster(stack),
            image=registry_image(),
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            request_concurrency=5,
            memory_mib=8192,
            cpu=1024,
        ),
    )
    assert _request_concurrency(endpoints, stack) == (1, 5, 5)


def test_request_concurrency_below_one_is_refused(
    stack: Stack, cluster: ecs.Cluster, image: ecs.ContainerImage
) -> None:
    with pytest.raises(ValueError, match="request_concurrency is 0; use 1 or more"):
        PrivateEndpointServiceProps(
            cluster=cluster,
            image=image,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            request_concurrency=0,
        )
