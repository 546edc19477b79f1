"""The `private-endpoints` topology: a web-app mirror behind an internal ALB.

The web app calls ``POST /tasks/{name}``; schedules and the GuardDuty rule invoke a
small Lambda in the VPC that makes the same call. The caller retries; work in flight
is lost if an endpoint task stops.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput
from constructs import Construct

from runtime.catalogue import TaskCatalogue
from stacks.ecs_base import EcsTopologyStack
from stacks.settings import TopologySettings
from task_constructs.private_endpoint_service import (
    PrivateEndpointService,
    PrivateEndpointServiceProps,
)
from task_constructs.task_triggers import TaskTriggers, TaskTriggersProps


class PrivateEndpointsStack(EcsTopologyStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        catalogue: TaskCatalogue,
        settings: TopologySettings,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, catalogue=catalogue, settings=settings, **kwargs)
        self.endpoints = PrivateEndpointService(
            self,
            "Endpoints",
            PrivateEndpointServiceProps(
                cluster=self.network.cluster,
                image=self.image,
                vpc_subnets=self.network.task_subnets,
                environment=self.data_environment,
                access_logs_bucket=self.data.access_logs_bucket,
            ),
        )
        self.grant_data(self.endpoints.task_definition.task_role)
        web_app = self.add_web_app(
            environment={"ASYNC_TASKS_ENDPOINT_URL": self.endpoints.endpoint_url}
        )
        self.endpoints.allow_from(web_app.security_group, "The web app")
        assert self.endpoints.invoker is not None
        TaskTriggers(
            self,
            "Triggers",
            TaskTriggersProps(catalogue=catalogue, function=self.endpoints.invoker),
        )
        CfnOutput(self, "EndpointUrl", value=self.endpoints.endpoint_url)
