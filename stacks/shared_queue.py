"""The one queue that worker-service and webapp-poller share, and their common base.

Both topologies build the queue, its DLQ and the data at the same construct paths,
so their logical ids and properties match: moving between the two keeps the queue,
the DLQ, the data and every task already queued (README: "Switching topology").
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy
from constructs import Construct

from runtime.catalogue import TaskCatalogue
from stacks.ecs_base import EcsTopologyStack
from stacks.outputs import QUEUE_URL_ENV
from stacks.settings import TopologySettings
from task_constructs.task_queue import TaskQueue, TaskQueueProps
from task_constructs.task_triggers import TaskTriggers, TaskTriggersProps


class SharedQueueTopologyStack(EcsTopologyStack):
    """Network, data, the shared TaskQueue and every schedule and event rule feeding it."""

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
        # Retained: the queue outlives a switch between the two topologies.
        self.task_queue = TaskQueue(
            self,
            "TaskQueue",
            TaskQueueProps(tasks=tuple(catalogue.values()), removal_policy=RemovalPolicy.RETAIN),
        )
        TaskTriggers(
            self,
            "Triggers",
            TaskTriggersProps(
                catalogue=catalogue, queues=dict.fromkeys(catalogue, self.task_queue.queue)
            ),
        )
        CfnOutput(
            self,
            "TaskQueueUrl",
            value=self.task_queue.queue.queue_url,
            description=f"Set as {QUEUE_URL_ENV} in the web app and the worker",
        )
        CfnOutput(self, "TaskDeadLetterQueueUrl", value=self.task_queue.dead_letter_queue.queue_url)

    @property
    def queue_environment(self) -> dict[str, str]:
        return {QUEUE_URL_ENV: self.task_queue.queue.queue_url, **self.data_environment}
