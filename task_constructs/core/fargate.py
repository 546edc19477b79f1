"""A Fargate task definition with one logged container, built the same way everywhere."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from constructs import Construct

from task_constructs.core import defaults
from task_constructs.core.acknowledge import acknowledge_resource
from task_constructs.core.defaults import given


@dataclass(frozen=True, kw_only=True)
class FargateSettings:
    image: ecs.ContainerImage
    cpu: int
    memory_mib: int
    container_name: str
    command: Sequence[str] | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    container_port: int | None = None
    stop_timeout: Duration | None = None
    log_retention: logs.RetentionDays | None = None
    health_check: ecs.HealthCheck | None = None
    cpu_architecture: ecs.CpuArchitecture | None = None
    """Default: x86_64. The image must be built for the same architecture."""


def fargate_task_definition(
    scope: Construct, settings: FargateSettings
) -> tuple[ecs.FargateTaskDefinition, ecs.ContainerDefinition]:
    """Create ``TaskDefinition`` and ``LogGroup`` under ``scope``."""
    task_definition = ecs.FargateTaskDefinition(
        scope,
        "TaskDefinition",
        cpu=settings.cpu,
        memory_limit_mib=settings.memory_mib,
        runtime_platform=ecs.RuntimePlatform(
            operating_system_family=ecs.OperatingSystemFamily.LINUX,
            cpu_architecture=given(settings.cpu_architecture, ecs.CpuArchitecture.X86_64),
        ),
    )
    log_group = logs.LogGroup(
        scope,
        "LogGroup",
        retention=given(settings.log_retention, defaults.FARGATE_LOG_RETENTION),
    )
    container = task_definition.add_container(
        settings.container_name,
        image=settings.image,
        # Control Tower CT.ECS.PR.3, PR.6 and PR.7: a non-root user, a read-only root
        # filesystem and a memory hard limit (the task's whole memory: one container).
        user=defaults.CONTAINER_USER,
        readonly_root_filesystem=True,
        memory_limit_mib=settings.memory_mib,
        command=list(settings.command) if settings.command is not None else None,
        environment=dict(settings.environment),
        stop_timeout=settings.stop_timeout,
        logging=ecs.LogDrivers.aws_logs(stream_prefix=settings.container_name, log_group=log_group),
        health_check=settings.health_check,
        port_mappings=(
            [ecs.PortMapping(container_port=settings.container_port)]
            if settings.container_port is not None
            else None
        ),
    )
    _add_scratch(task_definition, container)
    execution_role = task_definition.execution_role
    pull_policy = (
        execution_role.node.try_find_child("DefaultPolicy") if execution_role is not None else None
    )
    if pull_policy is not None:
        acknowledge_resource(
            pull_policy,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken supports no resource-level permissions; the "
            "image pull statements name the image's repository.",
        )
    acknowledge_resource(
        task_definition,
        "AwsSolutions-ECS2",
        "The environment holds resource names and URLs only; no secret is passed.",
    )
    return task_definition, container


def _add_scratch(task_definition: ecs.TaskDefinition, container: ecs.ContainerDefinition) -> None:
    """``/tmp`` writable on the read-only root filesystem: a bind mount on the task's
    ephemeral storage (Fargate 1.4.0+), for gunicorn's worker heartbeat files and
    Python's ``tempfile``. "Use bind mounts with Amazon ECS": the mount starts root-owned
    0755 unless the image's Dockerfile declares the path; container/Dockerfile declares
    ``VOLUME /tmp`` with mode 1777 (not checked on a live task)."""
    task_definition.add_volume(name=defaults.SCRATCH_VOLUME)
    container.add_mount_points(
        ecs.MountPoint(
            source_volume=defaults.SCRATCH_VOLUME,
            container_path=defaults.SCRATCH_PATH,
            read_only=False,
        )
    )


@dataclass(frozen=True, kw_only=True)
class AlwaysOnServiceSettings:
    cluster: ecs.ICluster
    task_definition: ecs.FargateTaskDefinition
    vpc_subnets: ec2.SubnetSelection | None
    security_group: ec2.ISecurityGroup
    min_capacity: int
    max_capacity: int
    cpu_target_percent: int = 60


def always_on_service(scope: Construct, settings: AlwaysOnServiceSettings) -> ecs.FargateService:
    """``Service``: at least ``min_capacity`` tasks, no public IP, CPU target tracking.

    No ``DesiredCount``: CloudFormation then starts a new service with 1 task and leaves
    the count alone on updates ("AWS::ECS::Service" DesiredCount), so a deploy never
    resets what auto scaling chose (and never stops tasks with work in hand).
    Application Auto Scaling raises it to ``min_capacity`` at once.
    """
    service = ecs.FargateService(
        scope,
        "Service",
        cluster=settings.cluster,
        task_definition=settings.task_definition,
        vpc_subnets=settings.vpc_subnets,
        security_groups=[settings.security_group],
        assign_public_ip=False,
        min_healthy_percent=100,
        circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
    )
    scaling = service.auto_scale_task_count(
        min_capacity=settings.min_capacity, max_capacity=settings.max_capacity
    )
    scaling.scale_on_cpu_utilization(
        "CpuTracking", target_utilization_percent=settings.cpu_target_percent
    )
    return service
