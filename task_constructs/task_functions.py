"""TaskFunctions: one Lambda function per task type, each fed by its own TaskQueue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from runtime.catalogue import LAMBDA_MAX_DURATION_SECONDS, TaskCatalogue, TaskType
from runtime.contract import (
    DLQ_URL_ENV,
    TASK_HANDLER,
    TASK_NAME_ENV,
    ResourceRole,
    queue_url_env_for,
)
from runtime.contract import EMAIL_CONFIGURATION_SET_ENV as CONFIGURATION_SET_ENV
from runtime.contract import EMAIL_SENDER_ENV as SENDER_ENV
from task_constructs.core import defaults
from task_constructs.core.acknowledge import acknowledge_resource
from task_constructs.core.defaults import given
from task_constructs.core.email import grant_send_email
from task_constructs.core.roles import mark_role
from task_constructs.core.runtime_code import powertools_layer, runtime_code
from task_constructs.core.runtime_function import RuntimeFunctionSettings, runtime_function
from task_constructs.core.validation import fail_if_any, fail_props, seconds
from task_constructs.task_queue import TaskQueue, TaskQueueProps

_MAX_BATCHING_WINDOW_SECONDS = 300


@dataclass(frozen=True, kw_only=True)
class TaskFunctionsProps:
    """Properties of :class:`TaskFunctions`."""

    catalogue: TaskCatalogue
    """The task types to deploy, one function and one queue each. Every task's
    ``max_duration_seconds`` must fit Lambda's 15 minutes."""

    batch_size: int | None = None
    """Messages per invocation (1..10), for every function. A batch runs in one
    invocation, so ``batch_size x max_duration_seconds`` must fit in 15 minutes.
    Default: per task, the largest batch up to 10 whose worst case fits."""

    max_batching_window: Duration | None = None
    """How long the event source gathers a batch (0..300 s). Default: none; a batch
    is handed over as soon as messages are available."""

    environment: Mapping[str, str] = field(default_factory=dict)
    """Extra environment variables for every function, e.g. the table name.
    Default: none beyond ``TASK_NAME``, ``ASYNC_TASKS_DLQ_URL`` and Powertools'
    service name."""

    code: lambda_.Code | None = None
    """The functions' code. Default: the project's ``runtime`` package, copied
    without Docker; the handler is ``runtime.lambda_batch.handler``."""

    runtime: lambda_.Runtime | None = None
    """Default: Python 3.13."""

    architecture: lambda_.Architecture | None = None
    """Default: arm64 (Graviton), about 20% cheaper per GB-second than x86_64."""

    powertools_layer: lambda_.ILayerVersion | None = None
    """The Powertools layer. Default: AWS's public Powertools for AWS Lambda
    (Python) v3 layer matching the runtime and architecture, version 27."""

    log_retention: logs.RetentionDays | None = None
    """Retention of each function's log group. Default: one month."""

    alarm_topic: sns.ITopic | None = None
    """SNS topic for every queue's alarms. Default: alarms without actions."""

    email_sender: str | None = None
    """The verified SES identity that tasks with ``sends_email`` send as. Default:
    none; such a task then fails permanently, naming the missing setting."""

    email_configuration_set: str | None = None
    """The SES configuration set email tasks send through, so bounces and complaints
    are published. Default: none; SES then publishes no feedback events."""

    def __post_init__(self) -> None:
        violations: list[str] = []
        if self.batch_size is not None and not 1 <= self.batch_size <= 10:
            violations.append(f"batch_size is {self.batch_size}; use 1..10")
        window = seconds(self.max_batching_window)
        if window is not None and not 0 <= window <= _MAX_BATCHING_WINDOW_SECONDS:
            violations.append(
                f"max_batching_window is {window:.0f} s; use 0..{_MAX_BATCHING_WINDOW_SECONDS} s"
            )
        fail_props("TaskFunctionsProps", violations)


class TaskFunctions(Construct):
    """A Lambda function per task type, each consuming only its own :class:`TaskQueue`.

    Each function: Python 3.13 on arm64, memory and timeout from the catalogue,
    X-Ray tracing, its own log group and role, and an SQS event source with
    ``ReportBatchItemFailures`` so one failed message does not retry the batch.
    The role may consume its own queue, dead-letter a poison message to its own
    DLQ and write its own logs; nothing else.

    Resources created, per task under ``<task-name>/``: ``Queue`` (a TaskQueue),
    ``Function``, ``Role``, ``LogGroup`` and the event source mapping.
    """

    def __init__(self, scope: Construct, construct_id: str, props: TaskFunctionsProps) -> None:
        fail_if_any("TaskFunctions", scope, construct_id, _lambda_fit_violations(props))
        super().__init__(scope, construct_id)

        self.runtime = given(props.runtime, defaults.LAMBDA_RUNTIME)
        self.architecture = given(props.architecture, defaults.LAMBDA_ARCHITECTURE)
        code = props.code if props.code is not None else runtime_code()
        layer = (
            props.powertools_layer
            if props.powertools_layer is not None
            else powertools_layer(self, "PowertoolsLayer", self.runtime, self.architecture)
        )
        queues: dict[str, TaskQueue] = {}
        functions: dict[str, lambda_.Function] = {}
        for task in props.catalogue.values():
            namespace = Construct(self, task.name)
            batch_size = _batch_size(task, props.batch_size)
            timeout = Duration.seconds(min(task.max_duration_seconds * batch_size, 900))
            queue = TaskQueue(
                namespace,
                "Queue",
                TaskQueueProps(
                    tasks=(task,),
                    lambda_consumer_timeout=timeout,
                    lambda_batching_window=props.max_batching_window,
                    alarm_topic=props.alarm_topic,
                ),
            )
            function = self._function(namespace, task, props, code, layer, timeout, queue)
            mapping = lambda_.EventSourceMapping(
                namespace,
                "EventSource",
                target=function,
                event_source_arn=queue.queue.queue_arn,
                batch_size=batch_size,
                max_batching_window=props.max_batching_window,
                report_batch_item_failures=True,
                max_concurrency=task.max_concurrency,
            )
            acknowledge_resource(
                mapping,
                "Serverless-LambdaEventSourceMappingDestination",
                "SQS event sources take no on-failure destination; the queue's redrive "
                "to its DLQ keeps failed messages.",
            )
            # The function resource depends on its role's policy, and the mapping on
            # the function, so the grant exists before the mapping is created.
            queue.grant_consume(function)
            queues[task.name] = queue
            functions[task.name] = function
        self.queues: Mapping[str, TaskQueue] = MappingProxyType(queues)
        self.functions: Mapping[str, lambda_.Function] = MappingProxyType(functions)
        for task in props.catalogue.values():
            self._wire_task_needs(task, props)

    def _wire_task_needs(self, task: TaskType, props: TaskFunctionsProps) -> None:
        """Grant a task exactly the queues it enqueues to, and email if it sends any."""
        function = self.functions[task.name]
        for target in task.enqueues:
            self.queues[target].grant_send(function)
            function.add_environment(queue_url_env_for(target), self.queues[target].queue.queue_url)
        if task.sends_email and props.email_sender is not None and function.role is not None:
            grant_send_email(function.role, props.email_sender, props.email_configuration_set)
            function.add_environment(SENDER_ENV, props.email_sender)
            if props.email_configuration_set is not None:
                function.add_environment(CONFIGURATION_SET_ENV, props.email_configuration_set)

    def _function(
        self,
        namespace: Construct,
        task: TaskType,
        props: TaskFunctionsProps,
        code: lambda_.Code,
        layer: lambda_.ILayerVersion,
        timeout: Duration,
        queue: TaskQueue,
    ) -> lambda_.Function:
        function, _ = runtime_function(
            namespace,
            RuntimeFunctionSettings(
                handler=TASK_HANDLER,
                description=task.description,
                memory_mib=task.memory_mib,
                timeout=timeout,
                runtime=self.runtime,
                architecture=self.architecture,
                code=code,
                layer=layer,
                log_retention=props.log_retention,
                environment={
                    **props.environment,
                    TASK_NAME_ENV: task.name,
                    DLQ_URL_ENV: queue.dead_letter_queue.queue_url,
                },
            ),
        )
        mark_role(function, ResourceRole.TASK, task=task.name)
        acknowledge_resource(
            function,
            "Serverless-LambdaDLQ",
            "Only its SQS event source invokes it, synchronously; a failed message returns "
            "to the queue and redrives to the queue's DLQ.",
        )
        return function


def _batch_size(task: TaskType, requested: int | None) -> int:
    if requested is not None:
        return requested
    return max(1, min(defaults.LAMBDA_MAX_BATCH_SIZE, 900 // task.max_duration_seconds))


def _lambda_fit_violations(props: TaskFunctionsProps) -> list[str]:
    found: list[str] = []
    limit_minutes = LAMBDA_MAX_DURATION_SECONDS // 60
    for task in props.catalogue.values():
        if task.max_duration_seconds > LAMBDA_MAX_DURATION_SECONDS:
            found.append(
                f"task '{task.name}' has max_duration {task.max_duration_seconds / 60:g} min; "
                f"Lambda allows at most {limit_minutes} min. Run it on worker-service or "
                "split it."
            )
        elif (
            props.batch_size is not None
            and props.batch_size * task.max_duration_seconds > LAMBDA_MAX_DURATION_SECONDS
        ):
            found.append(
                f"task '{task.name}': a batch of {props.batch_size} x max_duration "
                f"{task.max_duration_seconds} s exceeds Lambda's {limit_minutes} min; lower "
                "batch_size or omit it to size batches per task"
            )
    return found
