"""A Lambda function running a `runtime` handler, built the same way everywhere.

Python on arm64 with the Powertools layer, X-Ray tracing, its own log group and an
explicit role: the AWS-managed basic execution policy (logs:* on every log group)
never attaches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from task_constructs.core import defaults
from task_constructs.core.acknowledge import acknowledge_resource
from task_constructs.core.defaults import given
from task_constructs.core.runtime_code import powertools_layer, runtime_code

_LATEST_PYTHON = lambda_.Runtime.PYTHON_3_14


@dataclass(frozen=True, kw_only=True)
class RuntimeFunctionSettings:
    handler: str
    description: str
    memory_mib: int
    timeout: Duration
    environment: Mapping[str, str] = field(default_factory=dict)
    runtime: lambda_.Runtime | None = None
    architecture: lambda_.Architecture | None = None
    code: lambda_.Code | None = None
    layer: lambda_.ILayerVersion | None = None
    log_retention: logs.RetentionDays | None = None
    vpc: ec2.IVpc | None = None
    vpc_subnets: ec2.SubnetSelection | None = None
    security_groups: tuple[ec2.ISecurityGroup, ...] = ()


def runtime_function(
    scope: Construct, settings: RuntimeFunctionSettings
) -> tuple[lambda_.Function, iam.Role]:
    """Create ``Function``, ``Role`` and ``LogGroup`` under ``scope``."""
    runtime = given(settings.runtime, defaults.LAMBDA_RUNTIME)
    architecture = given(settings.architecture, defaults.LAMBDA_ARCHITECTURE)
    log_group = logs.LogGroup(
        scope,
        "LogGroup",
        retention=given(settings.log_retention, defaults.LAMBDA_LOG_RETENTION),
    )
    role = iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=settings.description,
    )
    log_group.grant_write(role)
    if settings.vpc is not None:
        # The ENI permissions the managed VPC access policy would grant, inline.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                resources=["*"],
            )
        )
    function = lambda_.Function(
        scope,
        "Function",
        description=settings.description,
        runtime=runtime,
        architecture=architecture,
        handler=settings.handler,
        code=settings.code if settings.code is not None else runtime_code(),
        layers=[
            settings.layer
            if settings.layer is not None
            else powertools_layer(scope, "PowertoolsLayer", runtime, architecture)
        ],
        memory_size=settings.memory_mib,
        timeout=settings.timeout,
        role=role,
        log_group=log_group,
        tracing=lambda_.Tracing.ACTIVE,
        vpc=settings.vpc,
        vpc_subnets=settings.vpc_subnets,
        security_groups=list(settings.security_groups) or None,
        environment={**settings.environment, "POWERTOOLS_SERVICE_NAME": "async-tasks"},
    )
    _acknowledge_runtime_choice(function, runtime)
    acknowledge_resource(
        role.node.find_child("DefaultPolicy"),
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray's PutTraceSegments and PutTelemetryRecords, and the ENI actions of a VPC "
        "function, support no resource-level permissions; every other statement names "
        "its resources.",
    )
    return function, role


def _acknowledge_runtime_choice(function: lambda_.Function, runtime: lambda_.Runtime) -> None:
    if runtime.name == _LATEST_PYTHON.name:
        return
    reason = (
        f"{runtime.name} is chosen on purpose: the public Powertools layer and the "
        "runtime's tests target it. Pass `runtime` to move up."
    )
    acknowledge_resource(function, "AwsSolutions-L1", reason)
    acknowledge_resource(function, "Serverless-LambdaLatestVersion", reason)
