"""The shared-data part of every topology: the task data, email feedback and their outputs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam

from runtime.contract import (
    EMAIL_CONFIGURATION_SET_ENV,
    EMAIL_SENDER_ENV,
    TASK_TABLE_OUTPUT,
    UPLOADS_BUCKET_OUTPUT,
)
from stacks.event_scope import event_scope
from stacks.settings import TopologySettings
from task_constructs.core.email import grant_send_email
from task_constructs.email_feedback import EmailFeedback
from task_constructs.task_data import TaskData, TaskDataProps


@dataclass(frozen=True)
class SharedData:
    """The data every consumer reads and writes, and where its email feedback goes."""

    data: TaskData
    email_feedback: EmailFeedback | None
    email_sender: str | None

    @property
    def consumer_environment(self) -> dict[str, str]:
        """What task code needs: the shared data, and the email sender if any."""
        email: dict[str, str] = {}
        if self.email_sender is not None and self.email_feedback is not None:
            email = {
                EMAIL_SENDER_ENV: self.email_sender,
                EMAIL_CONFIGURATION_SET_ENV: self.email_feedback.name,
            }
        return {**self.data.environment, **email}

    @property
    def event_scope(self) -> dict[str, dict[str, Any]]:
        """The pattern fields that tie the event rules to this deployment's resources."""
        return event_scope(self.data, self.email_feedback)

    def grant_consumer(self, role: iam.IRole, tasks: Iterable[str]) -> None:
        """A role that runs ``tasks`` reads uploads, writes results, keeps state and its
        ledger, and may send email as the configured sender."""
        self.data.grant_task_access(role, tasks)
        if self.email_sender is not None and self.email_feedback is not None:
            grant_send_email(role, self.email_sender, self.email_feedback.name)


def add_shared_data(stack: Stack, settings: TopologySettings) -> SharedData:
    """Add ``Data`` (and ``EmailFeedback`` when an email sender is set) to ``stack``,
    with the table and bucket names as outputs."""
    data = TaskData(
        stack,
        "Data",
        TaskDataProps(
            malware_protection=settings.malware_protection,
            noncurrent_version_days=settings.noncurrent_version_days,
        ),
    )
    feedback = EmailFeedback(stack, "EmailFeedback") if settings.email_sender is not None else None
    CfnOutput(stack, TASK_TABLE_OUTPUT, value=data.table.table_name)
    CfnOutput(stack, UPLOADS_BUCKET_OUTPUT, value=data.uploads_bucket.bucket_name)
    return SharedData(data=data, email_feedback=feedback, email_sender=settings.email_sender)
