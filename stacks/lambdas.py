"""The `lambdas` topology: one Lambda function and one queue per task type."""

from __future__ import annotations

from aws_cdk import CfnOutput
from aws_cdk import aws_iam as iam

from stacks.base import TopologyStack
from stacks.data import TaskData, TaskDataProps
from stacks.email import EmailFeedback
from stacks.event_scope import event_scope
from stacks.outputs import pascal_case, queue_url_env_for
from task_constructs.task_functions import TaskFunctions, TaskFunctionsProps
from task_constructs.task_triggers import TaskTriggers, TaskTriggersProps


class LambdasStack(TopologyStack):
    """Scheduler, EventBridge and the web app send to per-task queues; Lambdas consume."""

    def build(self) -> None:
        feedback = (
            EmailFeedback(self, "EmailFeedback") if self.settings.email_sender is not None else None
        )
        data = TaskData(
            self, "Data", TaskDataProps(malware_protection=self.settings.malware_protection)
        )
        tasks = TaskFunctions(
            self,
            "Tasks",
            TaskFunctionsProps(
                catalogue=self.catalogue,
                environment=data.environment,
                email_sender=self.settings.email_sender,
                email_configuration_set=feedback.name if feedback is not None else None,
            ),
        )
        for name, function in tasks.functions.items():
            data.grant_task_access(function, [name])
        TaskTriggers(
            self,
            "Triggers",
            TaskTriggersProps(
                catalogue=self.catalogue,
                queues={name: queue.queue for name, queue in tasks.queues.items()},
                narrowed_by=event_scope(data, feedback),
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
            if self.catalogue[name].on_demand:
                queue.grant_send(producer)
            CfnOutput(
                self,
                f"QueueUrl{pascal_case(name)}",
                value=queue.queue.queue_url,
                description=(
                    f"Set as {queue_url_env_for(name)} in the web app"
                    if self.catalogue[name].on_demand
                    else f"Fed by EventBridge only; the web app may not send to it ({name})"
                ),
            )
        CfnOutput(self, "WebAppProducerRoleArn", value=producer.role_arn)
        CfnOutput(self, "TaskTableName", value=data.table.table_name)
        CfnOutput(self, "UploadsBucketName", value=data.uploads_bucket.bucket_name)
