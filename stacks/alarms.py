"""Who hears of the stack's alarms: the ``alarmEmail`` and ``alarmTopicArn`` settings."""

from __future__ import annotations

from aws_cdk import Stack

from stacks.settings import TopologySettings
from task_constructs.alarm_notifications import AlarmNotifications, AlarmNotificationsProps

NOBODY_NOTIFIED = (
    "alarms notify nobody: each stack's Alarms/Topic has no subscriber; set "
    "-c alarmEmail=<address> or -c alarmTopicArn=<SNS topic ARN> to reach a person"
)


def add_alarm_notifications(stack: Stack, settings: TopologySettings) -> AlarmNotifications:
    """Add ``Alarms``: every alarm of ``stack`` notifies the configured people."""
    return AlarmNotifications(
        stack,
        "Alarms",
        AlarmNotificationsProps(email=settings.alarm_email, topic_arn=settings.alarm_topic_arn),
    )
