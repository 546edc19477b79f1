"""AlarmNotifications: every alarm in a scope tells a person, on ALARM and on OK."""

from __future__ import annotations

from dataclasses import dataclass

import jsii
from aws_cdk import Aspects, IAspect, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct, IConstruct

from task_constructs.core.acknowledge import acknowledge_resource


@dataclass(frozen=True, kw_only=True)
class AlarmNotificationsProps:
    email: str | None = None
    """An address subscribed to the construct's own topic (SNS asks it to confirm).
    Default: no subscription."""

    topic_arn: str | None = None
    """An existing SNS topic notified too, e.g. a team's on-call topic. With it and no
    ``email``, no topic is created. Default: none."""


class AlarmNotifications(Construct):
    """Add ``Topic`` (unless only ``topic_arn`` is given) and notify every alarm of
    ``scope`` that has no action yet, on ALARM and on OK.

    Alarms that already act (the worker service's wake-up step scaling) are left alone:
    they fire on every wake-up and are machinery, not a failure. With neither prop the
    topic has no subscriber: the alarms still have an action (Control Tower
    CT.CLOUDWATCH.PR.1) and a subscription can be added later without a deploy.
    """

    def __init__(
        self, scope: Construct, construct_id: str, props: AlarmNotificationsProps | None = None
    ) -> None:
        super().__init__(scope, construct_id)
        props = props if props is not None else AlarmNotificationsProps()
        self.topic: sns.ITopic | None = None
        topics: list[sns.ITopic] = []
        if props.email is not None or props.topic_arn is None:
            topic = sns.Topic(self, "Topic", enforce_ssl=True, display_name="Async tasks alarms")
            acknowledge_resource(
                topic,
                "AwsSolutions-SNS2",
                "Alarm notices carry alarm names and metric values only; CloudWatch can "
                "publish to an encrypted topic only with a customer-managed key (a "
                "monthly cost), not with alias/aws/sns.",
            )
            if props.email is not None:
                subscription = topic.add_subscription(subscriptions.EmailSubscription(props.email))
                acknowledge_resource(
                    subscription,
                    "Serverless-SNSRedrivePolicy",
                    "An email endpoint: SNS retries delivery itself, and a DLQ of alarm "
                    "notices would need an alarm of its own.",
                )
            self.topic = topic
            topics.append(topic)
        if props.topic_arn is not None:
            topics.append(sns.Topic.from_topic_arn(self, "ExistingTopic", props.topic_arn))
        self.subscribed = props.email is not None or props.topic_arn is not None
        Aspects.of(scope).add(_NotifyEveryAlarm(topics))


@jsii.implements(IAspect)
class _NotifyEveryAlarm:
    def __init__(self, topics: list[sns.ITopic]) -> None:
        self._actions = [cloudwatch_actions.SnsAction(topic) for topic in topics]

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, cloudwatch.Alarm) or _has_actions(node):
            return
        node.add_alarm_action(*self._actions)
        node.add_ok_action(*self._actions)


def _has_actions(alarm: cloudwatch.Alarm) -> bool:
    resource = alarm.node.default_child
    return isinstance(resource, cloudwatch.CfnAlarm) and bool(
        Stack.of(alarm).resolve(resource.alarm_actions)
    )
