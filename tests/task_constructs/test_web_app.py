"""WebApp: the Fargate service and task definition, its scaling, and the poller's needs.

Each test names the AWS documentation page that says why the setting matters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk.assertions import Match, Template
from constructs import IConstruct

from runtime.contract import METADATA_KEY, POLLER_THREADS_DETAIL, ResourceRole
from stacks.topologies import new_app
from task_constructs.web_app import WEBAPP_PORT, WebApp, WebAppProps
from tests.conftest import cdk_json_context

IMAGE = "public.ecr.aws/docker/library/python:3.13-slim"
ENVIRONMENT = {"ASYNC_TASKS_QUEUE_URL": "https://sqs.example/queue", "FEATURE": "on"}
COMMAND = ["gunicorn", "--config", "python:runtime.gunicorn_hooks", "runtime.web.webapp:app"]
TASK_PROTECTION_ACTIONS = ["ecs:GetTaskProtection", "ecs:UpdateTaskProtection"]


@dataclass(frozen=True)
class Synth:
    stack: Stack
    cluster: ecs.Cluster
    subnets: ec2.SubnetSelection
    web: WebApp
    template: Template

    def id(self, construct: IConstruct) -> str:
        return self.stack.get_logical_id(construct.node.default_child)  # type: ignore[arg-type]

    def resource(self, construct: IConstruct) -> dict[str, Any]:
        return self.template.to_json()["Resources"][self.id(construct)]

    @property
    def task_definition(self) -> dict[str, Any]:
        return self.resource(self.web.task_definition)["Properties"]

    @property
    def container(self) -> dict[str, Any]:
        (container,) = self.task_definition["ContainerDefinitions"]
        return container

    @property
    def service(self) -> dict[str, Any]:
        return self.resource(self.web.service)


def _synth(**overrides: Any) -> Synth:
    """A web app in a 2-AZ VPC without NAT, in a stack as the ``stack`` fixture makes it."""
    stack = Stack(new_app(context=cdk_json_context()), "Test")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="Tasks", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    cluster = ecs.Cluster(stack, "Cluster", vpc=vpc)
    subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    props = WebAppProps(
        cluster=cluster,
        image=ecs.ContainerImage.from_registry(IMAGE),
        vpc_subnets=subnets,
        **overrides,
    )
    web = WebApp(stack, "Web", props)
    return Synth(stack, cluster, subnets, web, Template.from_stack(stack))


@pytest.fixture(scope="module")
def plain() -> Synth:
    """Every default: no poller, the image's command, x86_64."""
    return _synth()


@pytest.fixture(scope="module")
def poller() -> Synth:
    """The webapp-poller shape, with every other prop away from its default."""
    return _synth(
        environment=ENVIRONMENT,
        command=COMMAND,
        poller_threads=3,
        min_capacity=2,
        max_capacity=5,
        cpu=1024,
        memory_mib=2048,
        cpu_architecture=ecs.CpuArchitecture.ARM64,
    )


@pytest.fixture(scope="module", params=["plain", "poller"])
def either(request: pytest.FixtureRequest) -> Synth:
    return request.getfixturevalue(request.param)


# --- Task definition ------------------------------------------------------------


def test_is_a_fargate_task_in_awsvpc_mode_listening_on_the_webapp_port(either: Synth) -> None:
    # "Amazon ECS task definition parameters for Fargate": Fargate requires awsvpc, where the
    # container port is the port on the task's own ENI.
    definition = either.task_definition
    assert definition["RequiresCompatibilities"] == ["FARGATE"]
    assert definition["NetworkMode"] == "awsvpc"
    assert either.container["PortMappings"] == [{"ContainerPort": WEBAPP_PORT, "Protocol": "tcp"}]
    assert either.container["Essential"] is True


@pytest.mark.parametrize(
    ("variant", "cpu", "memory"), [("plain", "512", "1024"), ("poller", "1024", "2048")]
)
def test_task_size_is_a_combination_fargate_supports(
    request: pytest.FixtureRequest, variant: str, cpu: str, memory: str
) -> None:
    # "Amazon ECS task definition parameters for Fargate", task size: 512 CPU units take 1-4 GB
    # and 1024 take 2-8 GB; other pairs fail at registration.
    definition = request.getfixturevalue(variant).task_definition
    assert (definition["Cpu"], definition["Memory"]) == (cpu, memory)


def test_container_health_check_calls_the_health_endpoint(either: Synth) -> None:
    # "HealthCheck" (Amazon ECS API Reference): CMD-SHELL runs the command with the container's
    # shell; exit code 0 is healthy.
    check = either.container["HealthCheck"]
    command = check["Command"]
    assert command[0] == "CMD-SHELL"
    assert f"http://localhost:{WEBAPP_PORT}/health" in command[1]
    # The check's own timeout must be longer than the urlopen timeout inside it.
    assert check["Timeout"] > 3


def test_container_environment_is_exactly_what_was_passed(poller: Synth, plain: Synth) -> None:
    # "Amazon ECS task definition parameters for Fargate", environment: name-value pairs.
    assert poller.container["Environment"] == [
        {"Name": name, "Value": value} for name, value in ENVIRONMENT.items()
    ]
    assert plain.container.get("Environment", []) == []


def test_command_overrides_the_image_only_when_given(poller: Synth, plain: Synth) -> None:
    # "Amazon ECS task definition parameters for Fargate", command: maps to Cmd in docker
    # create-container; without it the image's CMD runs.
    assert poller.container["Command"] == COMMAND
    assert "Command" not in plain.container


def test_stop_timeout_is_the_fargate_maximum(either: Synth) -> None:
    # "Amazon ECS task definition parameters for Fargate", stopTimeout: up to 120 s on
    # Fargate between SIGTERM and SIGKILL, the window the poller drains in.
    assert either.container["StopTimeout"] == 120


def test_logs_go_to_its_log_group_through_awslogs(either: Synth) -> None:
    # "Amazon ECS task execution IAM role": the awslogs driver needs logs:CreateLogStream and
    # logs:PutLogEvents on the group, through the execution role.
    log_group = either.id(either.web.node.find_child("LogGroup"))
    options = either.container["LogConfiguration"]
    assert options["LogDriver"] == "awslogs"
    assert options["Options"]["awslogs-group"] == {"Ref": log_group}
    assert options["Options"]["awslogs-stream-prefix"] == "webapp"
    execution_role = either.web.task_definition.execution_role
    assert execution_role is not None
    either.template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": either.id(execution_role)}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "Effect": "Allow",
                            "Resource": {"Fn::GetAtt": [log_group, "Arn"]},
                        }
                    ]
                )
            },
        },
    )


def test_arm64_sets_the_runtime_platform(poller: Synth, plain: Synth) -> None:
    # "Amazon ECS task definitions for 64-bit ARM workloads": runtimePlatform cpuArchitecture
    # ARM64 with operatingSystemFamily LINUX; X86_64 is the default otherwise.
    assert poller.task_definition["RuntimePlatform"] == {
        "CpuArchitecture": "ARM64",
        "OperatingSystemFamily": "LINUX",
    }
    assert plain.task_definition["RuntimePlatform"] == {
        "CpuArchitecture": "X86_64",
        "OperatingSystemFamily": "LINUX",
    }


# --- Service and scaling --------------------------------------------------------


def test_service_runs_on_fargate_in_the_given_subnets_without_public_ip(either: Synth) -> None:
    # "Amazon ECS task networking options for the Fargate launch type": tasks in private
    # subnets take no public IP; the service's subnets are the ones passed in.
    props = either.service["Properties"]
    assert props["LaunchType"] == "FARGATE"
    assert props["Cluster"] == {"Ref": either.id(either.cluster)}
    network = props["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    expected = either.cluster.vpc.select_subnets(subnet_type=either.subnets.subnet_type)
    assert network["Subnets"] == [either.stack.resolve(id_) for id_ in expected.subnet_ids]
    assert network["SecurityGroups"] == [
        {"Fn::GetAtt": [either.id(either.web.security_group), "GroupId"]}
    ]


def test_service_omits_desired_count_so_deploys_keep_the_scaled_count(either: Synth) -> None:
    # "AWS::ECS::Service" DesiredCount: a new service without it starts 1 task; an update
    # without it leaves the count as Application Auto Scaling set it.
    assert "DesiredCount" not in either.service["Properties"]


def test_deployments_roll_back_on_failure_and_keep_full_capacity(either: Synth) -> None:
    # "How the Amazon ECS deployment circuit breaker detects failures": with rollback, a failed
    # deployment returns to the last completed one. MinimumHealthyPercent 100 keeps every
    # running task until its replacement is healthy.
    config = either.service["Properties"]["DeploymentConfiguration"]
    assert config["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert config["MinimumHealthyPercent"] == 100


@pytest.mark.parametrize(("variant", "low", "high"), [("plain", 1, 4), ("poller", 2, 5)])
def test_scales_on_average_cpu_between_min_and_max_capacity(
    request: pytest.FixtureRequest, variant: str, low: int, high: int
) -> None:
    # "Target tracking scaling policies for Application Auto Scaling": the predefined
    # ECSServiceAverageCPUUtilization metric, held at the target by changing DesiredCount
    # within the scalable target's bounds.
    synth: Synth = request.getfixturevalue(variant)
    service_name = {"Fn::GetAtt": [synth.id(synth.web.service), "Name"]}
    (target_id,) = synth.template.find_resources(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "Properties": {
                "MinCapacity": low,
                "MaxCapacity": high,
                "ScalableDimension": "ecs:service:DesiredCount",
                "ServiceNamespace": "ecs",
                "ResourceId": {
                    "Fn::Join": [
                        "",
                        ["service/", {"Ref": synth.id(synth.cluster)}, "/", service_name],
                    ]
                },
            }
        },
    )
    synth.template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "ScalingTargetId": {"Ref": target_id},
            "TargetTrackingScalingPolicyConfiguration": {
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
                },
                "TargetValue": 60,
            },
        },
    )


# --- The poller -----------------------------------------------------------------


def _task_role_statements(synth: Synth) -> list[dict[str, Any]]:
    role_id = synth.id(synth.web.task_definition.task_role)
    policies = synth.template.find_resources(
        "AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_id}]}}
    )
    return [
        statement
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_poller_task_role_may_protect_the_clusters_tasks(poller: Synth) -> None:
    # "Protect your Amazon ECS tasks from being terminated by scale-in events": the task role
    # needs ecs:UpdateTaskProtection (and ecs:GetTaskProtection to read it back); a task's
    # ARN is arn:...:task/<cluster name>/<task id>, so the resource is the cluster's tasks.
    assert _task_role_statements(poller) == [
        {
            "Action": TASK_PROTECTION_ACTIONS,
            "Effect": "Allow",
            "Resource": {
                "Fn::Join": [
                    "",
                    [
                        "arn:",
                        {"Ref": "AWS::Partition"},
                        ":ecs:",
                        {"Ref": "AWS::Region"},
                        ":",
                        {"Ref": "AWS::AccountId"},
                        ":task/",
                        {"Ref": poller.id(poller.cluster)},
                        "/*",
                    ],
                ]
            },
        }
    ]


def test_without_poller_no_task_protection_is_granted(plain: Synth) -> None:
    # Same page: only a task that holds work needs to protect itself from scale-in.
    assert _task_role_statements(plain) == []
    assert "ecs:UpdateTaskProtection" not in str(plain.template.to_json())


@pytest.mark.parametrize(("variant", "threads"), [("plain", 0), ("poller", 3)])
def test_service_metadata_marks_it_as_the_web_app_with_its_poller_threads(
    request: pytest.FixtureRequest, variant: str, threads: int
) -> None:
    # CloudFormation "Metadata attribute": structured data on the resource, read from cdk.out
    # by the cost model.
    synth: Synth = request.getfixturevalue(variant)
    assert synth.service["Metadata"][METADATA_KEY] == {
        "role": ResourceRole.WEBAPP.value,
        POLLER_THREADS_DETAIL: threads,
    }
