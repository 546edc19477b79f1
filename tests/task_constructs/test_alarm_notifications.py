"""AlarmNotifications: every alarm of a scope notifies people, on ALARM and on OK.

"AWS::CloudWatch::Alarm": AlarmActions run on a transition to ALARM, OKActions on one to
OK. "Amazon SNS email notifications": an email subscription stays pending until the
address confirms it.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk.assertions import Template

from task_constructs.alarm_notifications import AlarmNotifications, AlarmNotificationsProps

ARN = "arn:aws:sns:eu-west-2:123456789012:ops-alarms"


def _alarm(stack: Stack, construct_id: str) -> cloudwatch.Alarm:
    metric = cloudwatch.Metric(namespace="Test", metric_name="Errors")
    return cloudwatch.Alarm(stack, construct_id, metric=metric, threshold=0, evaluation_periods=1)


def _alarms(stack: Stack) -> dict[str, Any]:
    return dict(Template.from_stack(stack).find_resources("AWS::CloudWatch::Alarm"))


def test_default_is_a_topic_without_subscriber_notified_on_alarm_and_ok(stack: Stack) -> None:
    _alarm(stack, "Errors")
    notifications = AlarmNotifications(stack, "Alarms")
    assert notifications.topic is not None and notifications.subscribed is False
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SNS::Subscription", 0)
    topic = stack.resolve(notifications.topic.topic_arn)
    (alarm,) = _alarms(stack).values()
    assert alarm["Properties"]["AlarmActions"] == [topic]
    assert alarm["Properties"]["OKActions"] == [topic]


def test_an_email_subscribes_to_the_topic(stack: Stack) -> None:
    AlarmNotifications(stack, "Alarms", AlarmNotificationsProps(email="ops@example.com"))
    Template.from_stack(stack).has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )


def test_a_topic_arn_alone_is_notified_and_no_topic_is_created(stack: Stack) -> None:
    _alarm(stack, "Errors")
    notifications = AlarmNotifications(stack, "Alarms", AlarmNotificationsProps(topic_arn=ARN))
    assert notifications.topic is None and notifications.subscribed is True
    Template.from_stack(stack).resource_count_is("AWS::SNS::Topic", 0)
    (alarm,) = _alarms(stack).values()
    assert alarm["Properties"]["AlarmActions"] == [ARN]
    assert alarm["Properties"]["OKActions"] == [ARN]


def test_an_alarm_that_already_acts_is_left_alone(stack: Stack) -> None:
    # GIVEN an alarm with its own action (as the worker service's wake-up step scaling)
    mechanism = _alarm(stack, "Mechanism")
    mechanism.add_alarm_action(_Action())
    AlarmNotifications(stack, "Alarms")
    # THEN it keeps that action only
    alarm = _alarms(stack)[stack.get_logical_id(mechanism.node.default_child)]  # type: ignore[arg-type]
    assert alarm["Properties"]["AlarmActions"] == ["arn:aws:test:action"]
    assert "OKActions" not in alarm["Properties"]


@jsii.implements(cloudwatch.IAlarmAction)
class _Action:
    def bind(self, _scope: Any, _alarm: Any) -> cloudwatch.AlarmActionConfig:
        return cloudwatch.AlarmActionConfig(alarm_action_arn="arn:aws:test:action")
