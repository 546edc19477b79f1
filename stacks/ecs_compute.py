"""The ECS part of the three container topologies: the network, the image, the web app."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_ecs as ecs

from stacks.images import runtime_image
from stacks.settings import TopologySettings
from stacks.sizing import WebAppSize
from task_constructs.task_network import TaskNetwork, TaskNetworkProps
from task_constructs.web_app import WebApp, WebAppProps


@dataclass(frozen=True)
class EcsCompute:
    """Where the containers run and what they run."""

    network: TaskNetwork
    image: ecs.ContainerImage
    cpu_architecture: ecs.CpuArchitecture

    def add_web_app(
        self,
        stack: Stack,
        *,
        environment: Mapping[str, str],
        size: WebAppSize,
        command: Sequence[str] | None = None,
        poller_threads: int = 0,
    ) -> WebApp:
        """The web app service, ``WebApp``, in the task subnets, at ``size``."""
        return WebApp(
            stack,
            "WebApp",
            WebAppProps(
                cluster=self.network.cluster,
                image=self.image,
                vpc_subnets=self.network.task_subnets,
                environment=environment,
                command=command,
                poller_threads=poller_threads,
                min_capacity=size.min_tasks,
                max_capacity=size.max_tasks,
                cpu=size.cpu,
                memory_mib=size.memory_mib,
                cpu_architecture=self.cpu_architecture,
            ),
        )


def add_ecs_compute(stack: Stack, settings: TopologySettings) -> EcsCompute:
    """Add ``Network`` and the runtime image to ``stack``."""
    network = TaskNetwork(
        stack,
        "Network",
        TaskNetworkProps(
            aws_api_access=settings.aws_api_access,
            existing_vpc=settings.existing_vpc,
            availability_zones=settings.availability_zones,
        ),
    )
    return EcsCompute(
        network=network,
        image=runtime_image(stack, settings.image),
        cpu_architecture=settings.architecture.cpu_architecture,
    )
