"""The one queue that worker-service and webapp-poller share, and their common base.

Both topologies build the queue, its DLQ and the data at the same construct paths,
so their logical ids and properties match: moving between the two keeps the queue,
the DLQ, the data and every task already queued (README: "Switching topology").
"""

from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy

from stacks.ecs_base import EcsTopologyStack
from stacks.event_scope import event_scope
from stacks.outputs import QUEUE_URL_ENV
from task_constructs.task_queue import TaskQueue, TaskQueueProps
from task_constructs.task_triggers import TaskTriggers, TaskTriggersProps


class SharedQueueTopologyStack(EcsTopologyStack):
    """Network, data, the shared TaskQueue and every schedule and event rule feeding it."""

    def build_topology(self) -> None:
        # Retained: the queue outlives a switch between the two topologies.
        self.task_queue = TaskQueue(
            self,
            "TaskQueue",
            TaskQueueProps(
                tasks=tuple(self.catalogue.values()), removal_policy=RemovalPolicy.RETAIN
            ),
        )
        TaskTriggers(
            self,
            "Triggers",
            TaskTriggersProps(
                catalogue=self.catalogue,
                queues=dict.fromkeys(self.catalogue, self.task_queue.queue),
                narrowed_by=event_scope(self.data, self.email_feedback),
            ),
        )
        CfnOutput(
            self,
            "TaskQueueUrl",
            value=self.task_queue.queue.queue_url,
            description=f"Set as {QUEUE_URL_ENV} in the web app and the worker",
        )
        CfnOutput(self, "TaskDeadLetterQueueUrl", value=self.task_queue.dead_letter_queue.queue_url)
        self.add_consumers()

    def add_consumers(self) -> None:
        raise NotImplementedError

    @property
    def queue_environment(self) -> dict[str, str]:
        return {QUEUE_URL_ENV: self.task_queue.queue.queue_url, **self.consumer_environment}
