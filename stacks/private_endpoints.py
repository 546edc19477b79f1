"""The `private-endpoints` topology: a web-app mirror behind an internal ALB.

The web app calls ``POST /tasks/{name}``; schedules and the GuardDuty rule invoke a
small Lambda in the VPC that makes the same call. The caller retries; work in flight
is lost if an endpoint task stops.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from runtime.contract import ENDPOINT_URL_ENV, ENDPOINT_URL_OUTPUT
from stacks.alarms import add_alarm_notifications
from stacks.ecs_compute import add_ecs_compute
from stacks.settings import TopologyProps
from stacks.shared_data import add_shared_data
from stacks.sizing import endpoints_sizes
from task_constructs.private_endpoint_service import (
    PrivateEndpointService,
    PrivateEndpointServiceProps,
)
from task_constructs.task_triggers import TaskTriggers, TaskTriggersProps


class PrivateEndpointsStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, props: TopologyProps, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        catalogue, settings = props.catalogue, props.settings
        compute = add_ecs_compute(self, settings)
        shared = add_shared_data(self, settings)
        add_alarm_notifications(self, settings)
        endpoints_size, web_app_size = endpoints_sizes(settings.sizing, catalogue)

        endpoints = PrivateEndpointService(
            self,
            "Endpoints",
            PrivateEndpointServiceProps(
                cluster=compute.network.cluster,
                image=compute.image,
                vpc_subnets=compute.network.task_subnets,
                environment=shared.consumer_environment,
                access_logs_bucket=shared.data.access_logs_bucket,
                cpu_architecture=compute.cpu_architecture,
                invoker=True,
                min_capacity=endpoints_size.min_tasks,
                max_capacity=endpoints_size.max_tasks,
                cpu=endpoints_size.cpu,
                memory_mib=endpoints_size.memory_mib,
                request_concurrency=endpoints_size.request_concurrency,
            ),
        )
        shared.grant_consumer(endpoints.task_definition.task_role, catalogue)
        # Fan-out and continuation tasks go back through the endpoint itself.
        endpoints.container.add_environment(ENDPOINT_URL_ENV, endpoints.endpoint_url)
        endpoints.allow_from(endpoints.service_security_group, "The endpoints")

        web_app = compute.add_web_app(
            self,
            environment={
                ENDPOINT_URL_ENV: endpoints.endpoint_url,
                **settings.producer_environment(catalogue),
            },
            size=web_app_size,
        )
        endpoints.allow_from(web_app.security_group, "The web app")

        # Schedules and event rules reach the endpoints through the invoker Lambda.
        if endpoints.invoker is None:
            raise ValueError("private-endpoints: the endpoint service must have its invoker")
        TaskTriggers(
            self,
            "Triggers",
            TaskTriggersProps(
                catalogue=catalogue,
                function=endpoints.invoker,
                narrowed_by=shared.event_scope,
            ),
        )
        CfnOutput(self, ENDPOINT_URL_OUTPUT, value=endpoints.endpoint_url)
