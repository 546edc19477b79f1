"""The `private-endpoints` topology: a web-app mirror behind an internal ALB.

The web app calls ``POST /tasks/{name}``; schedules and the GuardDuty rule invoke a
small Lambda in the VPC that makes the same call. The caller retries; work in flight
is lost if an endpoint task stops.
"""

from __future__ import annotations

from aws_cdk import CfnOutput

from stacks.ecs_base import EcsTopologyStack
from stacks.event_scope import event_scope
from stacks.outputs import ENDPOINT_URL_ENV
from task_constructs.private_endpoint_service import (
    PrivateEndpointService,
    PrivateEndpointServiceProps,
)
from task_constructs.task_triggers import TaskTriggers, TaskTriggersProps


class PrivateEndpointsStack(EcsTopologyStack):
    def build_topology(self) -> None:
        self.endpoints = PrivateEndpointService(
            self,
            "Endpoints",
            PrivateEndpointServiceProps(
                cluster=self.network.cluster,
                image=self.image,
                vpc_subnets=self.network.task_subnets,
                environment=self.consumer_environment,
                access_logs_bucket=self.data.access_logs_bucket,
                cpu_architecture=self.cpu_architecture,
            ),
        )
        self.grant_consumer(self.endpoints.task_definition.task_role)
        # Fan-out and continuation tasks go back through the endpoint itself.
        self.endpoints.container.add_environment(ENDPOINT_URL_ENV, self.endpoints.endpoint_url)
        self.endpoints.allow_from(self.endpoints.service_security_group, "The endpoints")
        web_app = self.add_web_app(environment={ENDPOINT_URL_ENV: self.endpoints.endpoint_url})
        self.endpoints.allow_from(web_app.security_group, "The web app")
        assert self.endpoints.invoker is not None
        TaskTriggers(
            self,
            "Triggers",
            TaskTriggersProps(
                catalogue=self.catalogue,
                function=self.endpoints.invoker,
                narrowed_by=event_scope(self.data, self.email_feedback),
            ),
        )
        CfnOutput(self, "EndpointUrl", value=self.endpoints.endpoint_url)
