"""The one queue that worker-service and webapp-poller share, and every trigger feeding it.

Both topologies build the queue, its DLQ and the data at the same construct paths,
so their logical ids and properties match: moving between the two keeps the queue,
the DLQ, the data and every task already queued (README: "Switching topology").
"""

from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_

from runtime.catalogue import TaskCatalogue
from runtime.contract import QUEUE_URL_ENV, TASK_DLQ_URL_OUTPUT, TASK_QUEUE_URL_OUTPUT
from stacks.shared_data import SharedData
from task_constructs.task_queue import TaskQueue, TaskQueueProps
from task_constructs.task_triggers import TaskTriggers, TaskTriggersProps


def add_shared_queue(stack: Stack, catalogue: TaskCatalogue) -> TaskQueue:
    """Add ``TaskQueue``, retained: it outlives a switch between the two topologies."""
    task_queue = TaskQueue(
        stack,
        "TaskQueue",
        TaskQueueProps(tasks=tuple(catalogue.values()), removal_policy=RemovalPolicy.RETAIN),
    )
    CfnOutput(
        stack,
        TASK_QUEUE_URL_OUTPUT,
        value=task_queue.queue.queue_url,
        description=f"Set as {QUEUE_URL_ENV} in the web app and the worker",
    )
    CfnOutput(stack, TASK_DLQ_URL_OUTPUT, value=task_queue.dead_letter_queue.queue_url)
    return task_queue


def add_shared_triggers(
    stack: Stack,
    catalogue: TaskCatalogue,
    shared: SharedData,
    task_queue: TaskQueue,
    wake: lambda_.IFunction | None = None,
) -> TaskTriggers:
    """Add ``Triggers``: every schedule and event rule sends to ``task_queue`` (and
    nudges ``wake``, the worker service's waker, when given)."""
    return TaskTriggers(
        stack,
        "Triggers",
        TaskTriggersProps(
            catalogue=catalogue,
            queues=dict.fromkeys(catalogue, task_queue.queue),
            narrowed_by=shared.event_scope,
            wake=wake,
        ),
    )
