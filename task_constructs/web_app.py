"""The web app: a Fargate service standing in for the real one.

It runs the project image (gunicorn serving ``runtime.web.webapp``: a health endpoint
and the producer API). In webapp-poller it also runs the queue poller, as a child
process of the gunicorn master (see docs/runtime.md for why).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from constructs import Construct

from runtime.contract import ResourceRole
from task_constructs.core.fargate import (
    AlwaysOnServiceSettings,
    FargateSettings,
    always_on_service,
    fargate_task_definition,
)
from task_constructs.core.roles import mark_role
from task_constructs.core.task_protection import grant_task_protection

WEBAPP_PORT = 8000
_HEALTH_CHECK = (
    'python -c "import urllib.request; '
    f"urllib.request.urlopen('http://localhost:{WEBAPP_PORT}/health', timeout=3)\""
)


@dataclass(frozen=True, kw_only=True)
class WebAppProps:
    cluster: ecs.ICluster
    image: ecs.ContainerImage
    vpc_subnets: ec2.SubnetSelection
    environment: Mapping[str, str] = field(default_factory=dict)
    command: Sequence[str] | None = None
    """Default: the image's command (gunicorn serving the web app)."""
    poller_threads: int = 0
    """Queue poller threads running in each web app task; 0 when there is no poller."""
    min_capacity: int = 1
    max_capacity: int = 4
    cpu: int = 512
    memory_mib: int = 1024
    cpu_architecture: ecs.CpuArchitecture | None = None


class WebApp(Construct):
    """``TaskDefinition``, ``LogGroup``, ``Service`` and its CPU-based scaling."""

    def __init__(self, scope: Construct, construct_id: str, props: WebAppProps) -> None:
        super().__init__(scope, construct_id)
        self.task_definition, self.container = fargate_task_definition(
            self,
            FargateSettings(
                image=props.image,
                cpu=props.cpu,
                memory_mib=props.memory_mib,
                container_name="webapp",
                command=props.command,
                environment=props.environment,
                container_port=WEBAPP_PORT,
                stop_timeout=Duration.seconds(120),
                health_check=ecs.HealthCheck(command=["CMD-SHELL", _HEALTH_CHECK]),
                cpu_architecture=props.cpu_architecture,
            ),
        )
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=props.cluster.vpc, description="Web app tasks"
        )
        self.service = always_on_service(
            self,
            AlwaysOnServiceSettings(
                cluster=props.cluster,
                task_definition=self.task_definition,
                vpc_subnets=props.vpc_subnets,
                security_group=self.security_group,
                min_capacity=props.min_capacity,
                max_capacity=props.max_capacity,
            ),
        )
        mark_role(self.service, ResourceRole.WEBAPP, poller_threads=props.poller_threads)
        if props.poller_threads > 0:
            # The poller holds scale-in protection while it has messages in hand.
            grant_task_protection(self, self.task_definition.task_role, props.cluster)
