"""The `lambdas` topology: one Lambda function and one queue per task type."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from runtime.catalogue import TaskCatalogue
from runtime.contract import (
    UNAVAILABLE_TASKS_OUTPUT,
    WEBAPP_PRODUCER_ROLE_OUTPUT,
    queue_url_env_for,
    queue_url_output_for,
)
from stacks.alarms import add_alarm_notifications
from stacks.settings import TopologyProps
from stacks.shared_data import add_shared_data
from stacks.sizing import lambdas_catalogue
from task_constructs.task_functions import TaskFunctions, TaskFunctionsProps
from task_constructs.task_triggers import TaskTriggers, TaskTriggersProps


def concurrency_note(catalogue: TaskCatalogue) -> str:
    """One line: what the SQS event sources' caps add up to, against a new account.

    A new account's Lambda concurrency quota may be as low as 10 ("Lambda quotas");
    each capped event source may take its cap, an uncapped one up to 1,250.
    """
    capped = sum(task.max_concurrency or 0 for task in catalogue.values())
    uncapped = sorted(task.name for task in catalogue.values() if task.max_concurrency is None)
    rest = f" plus {', '.join(uncapped)} uncapped" if uncapped else ""
    return (
        f"the lambdas topology's SQS event sources may run {capped} functions at once{rest}; "
        "a new account's Lambda concurrency quota may be 10: check ConcurrentExecutions "
        "with `aws lambda get-account-settings` and ask for more before relying on them"
    )


class LambdasStack(Stack):
    """Scheduler, EventBridge and the web app send to per-task queues; Lambdas consume."""

    def __init__(
        self, scope: Construct, construct_id: str, props: TopologyProps, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        settings = props.settings
        catalogue = lambdas_catalogue(props.catalogue, settings.sizing.lambdas)
        shared = add_shared_data(self, settings)
        add_alarm_notifications(self, settings)
        feedback = shared.email_feedback

        # Each function gets its own task's grants; TaskFunctions grants the sender.
        tasks = TaskFunctions(
            self,
            "Tasks",
            TaskFunctionsProps(
                catalogue=catalogue,
                environment=shared.data.environment,
                email_sender=settings.email_sender,
                email_configuration_set=feedback.name if feedback is not None else None,
            ),
        )
        for name, function in tasks.functions.items():
            shared.data.grant_task_access(function, [name])
        TaskTriggers(
            self,
            "Triggers",
            TaskTriggersProps(
                catalogue=catalogue,
                queues={name: queue.queue for name, queue in tasks.queues.items()},
                narrowed_by=shared.event_scope,
            ),
        )

        # The web app's task role: it may send only to the queues of the tasks it
        # triggers on demand. Event-only tasks (virus-scan-result, email-feedback) take
        # their envelopes from EventBridge alone, so the web app cannot forge them.
        producer = iam.Role(
            self,
            "WebAppProducerRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Web app task role: may enqueue tasks and nothing more",
        )
        for name, queue in tasks.queues.items():
            if catalogue[name].on_demand:
                queue.grant_send(producer)
            CfnOutput(
                self,
                queue_url_output_for(name),
                value=queue.queue.queue_url,
                description=(
                    f"Set as {queue_url_env_for(name)} in the web app"
                    if catalogue[name].on_demand
                    else f"Fed by EventBridge only; the web app may not send to it ({name})"
                ),
            )
        CfnOutput(self, WEBAPP_PRODUCER_ROLE_OUTPUT, value=producer.role_arn)
        unavailable = settings.producer_environment(catalogue)
        for name, value in unavailable.items():
            CfnOutput(
                self,
                UNAVAILABLE_TASKS_OUTPUT,
                value=value,
                description=f"Set as {name} in the web app: its producer refuses these tasks",
            )
