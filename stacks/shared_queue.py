"""The one queue that worker-service and webapp-poller share.

Both topologies build it at the same construct path, so its logical ids (and the
messages in it) survive switching between them in place.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from runtime.catalogue import TaskCatalogue
from stacks.data import TaskData
from stacks.outputs import QUEUE_URL_ENV
from task_constructs.task_queue import TaskQueue, TaskQueueProps
from task_constructs.task_triggers import TaskTriggers, TaskTriggersProps


def add_shared_task_queue(stack: Stack, catalogue: TaskCatalogue) -> TaskQueue:
    """One TaskQueue for every task type, fed by every schedule and event rule."""
    queue = TaskQueue(stack, "TaskQueue", TaskQueueProps(tasks=tuple(catalogue.values())))
    TaskTriggers(
        stack,
        "Triggers",
        TaskTriggersProps(catalogue=catalogue, queues=dict.fromkeys(catalogue, queue.queue)),
    )
    CfnOutput(
        stack,
        "TaskQueueUrl",
        value=queue.queue.queue_url,
        description=f"Set as {QUEUE_URL_ENV} in the web app and the worker",
    )
    CfnOutput(stack, "TaskDeadLetterQueueUrl", value=queue.dead_letter_queue.queue_url)
    return queue


class SharedQueueTopologyStack(Stack):
    """Data plus the shared queue and its triggers: the common base of the two
    topologies that consume one queue (worker-service and webapp-poller)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, catalogue: TaskCatalogue, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.data = TaskData(self, "Data")
        self.task_queue = add_shared_task_queue(self, catalogue)
