"""The `worker-service` topology: a separate ECS service consuming the shared queue.

The web app only enqueues; a Fargate worker service scales 0..N on backlog per task.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from runtime.contract import QUEUE_URL_ENV, WAKER_FUNCTION_ENV
from stacks.alarms import add_alarm_notifications
from stacks.ecs_compute import add_ecs_compute
from stacks.settings import TopologyProps
from stacks.shared_data import add_shared_data
from stacks.shared_queue import add_shared_queue, add_shared_triggers
from stacks.sizing import worker_service_sizes
from task_constructs.queue_worker_service import QueueWorkerService, QueueWorkerServiceProps


class WorkerServiceStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, props: TopologyProps, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        catalogue, settings = props.catalogue, props.settings
        compute = add_ecs_compute(self, settings)
        shared = add_shared_data(self, settings)
        add_alarm_notifications(self, settings)
        task_queue = add_shared_queue(self, catalogue)
        workers_size, web_app_size = worker_service_sizes(settings.sizing, catalogue)

        workers = QueueWorkerService(
            self,
            "Workers",
            QueueWorkerServiceProps(
                cluster=compute.network.cluster,
                image=compute.image,
                task_queue=task_queue,
                vpc_subnets=compute.network.task_subnets,
                environment=shared.consumer_environment,
                cpu_architecture=compute.cpu_architecture,
                max_capacity=workers_size.max_tasks,
                cpu=workers_size.cpu,
                memory_mib=workers_size.memory_mib,
                worker_concurrency=workers_size.threads,
                acceptable_latency=Duration.seconds(workers_size.acceptable_latency_seconds),
                wake_on_enqueue=settings.wake_on_enqueue,
            ),
        )
        waker = workers.waker
        add_shared_triggers(
            self, catalogue, shared, task_queue, wake=waker.function if waker else None
        )
        web_app = compute.add_web_app(
            self,
            environment={
                QUEUE_URL_ENV: task_queue.queue.queue_url,
                **settings.producer_environment(catalogue),
                **({WAKER_FUNCTION_ENV: waker.function.function_name} if waker else {}),
            },
            size=web_app_size,
        )
        task_queue.grant_send(web_app.task_definition.task_role)
        if waker is not None:
            waker.grant_nudge(web_app.task_definition.task_role)
            # The web app reaches Lambda's API through an interface endpoint when the
            # VPC has no internet route.
            compute.network.add_aws_api_endpoint(
                "Lambda", ec2.InterfaceVpcEndpointAwsService.LAMBDA_
            )
        role = workers.task_definition.task_role
        shared.grant_consumer(role, catalogue)
        task_queue.grant_send(role)  # fan-out and continuation tasks
