"""TaskQueue: redrive, encryption, TLS, visibility, alarms, grants and bad input."""

from __future__ import annotations

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template

from runtime.contract.retry_budget import redrive_max_receive_count
from task_constructs.task_queue import TaskQueue, TaskQueueProps
from tests.task_constructs.conftest import TaskFactory


def _queue_props(template: Template, logical_id: str) -> dict:
    return template.to_json()["Resources"][logical_id]["Properties"]


def _ids(stack: Stack, queue: TaskQueue) -> tuple[str, str]:
    main = stack.get_logical_id(queue.queue.node.default_child)  # type: ignore[arg-type]
    dlq = stack.get_logical_id(queue.dead_letter_queue.node.default_child)  # type: ignore[arg-type]
    return main, dlq


def test_redrive_is_a_backstop_above_the_catalogue_retry_budget(
    stack: Stack, make_task: TaskFactory
) -> None:
    # The runtime dead-letters after 7 failed attempts; SQS's count also includes
    # receives that are not failures, so the backstop is the runtime's own rule.
    queue = TaskQueue(stack, "Tasks", TaskQueueProps(tasks=(make_task(max_receive_count=7),)))
    template = Template.from_stack(stack)
    main, dlq = _ids(stack, queue)
    assert _queue_props(template, main)["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
        "maxReceiveCount": redrive_max_receive_count(7),
    }
    assert queue.max_receive_count == redrive_max_receive_count(7) == 17
    assert _queue_props(template, main)["MaximumMessageSize"] == 1_048_576
    assert _queue_props(template, dlq)["MaximumMessageSize"] == 1_048_576


def test_shared_queue_uses_the_largest_max_receive_count(
    stack: Stack, make_task: TaskFactory
) -> None:
    tasks = (make_task(name="a", max_receive_count=2), make_task(name="b", max_receive_count=9))
    queue = TaskQueue(stack, "Tasks", TaskQueueProps(tasks=tasks))
    assert queue.max_receive_count == redrive_max_receive_count(9)


def test_both_queues_are_encrypted_with_sse_sqs_by_default(
    stack: Stack, make_task: TaskFactory
) -> None:
    TaskQueue(stack, "Tasks", TaskQueueProps(tasks=(make_task(),)))
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SQS::Queue", 2)
    template.all_resources_properties(
        "AWS::SQS::Queue", {"SqsManagedSseEnabled": True, "KmsMasterKeyId": Match.absent()}
    )


def test_customer_key_encrypts_both_queues(stack: Stack, make_task: TaskFactory) -> None:
    key = kms.Key(stack, "Key")
    TaskQueue(stack, "Tasks", TaskQueueProps(tasks=(make_task(),), encryption_key=key))
    Template.from_stack(stack).all_resources_properties(
        "AWS::SQS::Queue",
        {"KmsMasterKeyId": {"Fn::GetAtt": [stack.get_logical_id(key.node.default_child), "Arn"]}},  # type: ignore[arg-type]
    )


def test_both_queues_deny_requests_without_tls(stack: Stack, make_task: TaskFactory) -> None:
    TaskQueue(stack, "Tasks", TaskQueueProps(tasks=(make_task(),)))
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SQS::QueuePolicy", 2)
    template.all_resources_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sqs:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_dlq_keeps_messages_14_days_and_queue_4_days_by_default(
    stack: Stack, make_task: TaskFactory
) -> None:
    queue = TaskQueue(stack, "Tasks", TaskQueueProps(tasks=(make_task(),)))
    template = Template.from_stack(stack)
    main, dlq = _ids(stack, queue)
    assert _queue_props(template, dlq)["MessageRetentionPeriod"] == 14 * 86400
    assert _queue_props(template, main)["MessageRetentionPeriod"] == 4 * 86400


def test_visibility_defaults_to_longest_max_duration_plus_60_s(
    stack: Stack, make_task: TaskFactory
) -> None:
    tasks = (
        make_task(name="a", max_duration_seconds=100),
        make_task(name="b", max_duration_seconds=300),
    )
    queue = TaskQueue(stack, "Tasks", TaskQueueProps(tasks=tasks))
    main, _ = _ids(stack, queue)
    assert _queue_props(Template.from_stack(stack), main)["VisibilityTimeout"] == 360


def test_visibility_is_six_times_the_lambda_timeout_plus_batching_window(
    stack: Stack, make_task: TaskFactory
) -> None:
    queue = TaskQueue(
        stack,
        "Tasks",
        TaskQueueProps(
            tasks=(make_task(),),
            lambda_consumer_timeout=Duration.seconds(120),
            lambda_batching_window=Duration.seconds(5),
        ),
    )
    main, _ = _ids(stack, queue)
    assert _queue_props(Template.from_stack(stack), main)["VisibilityTimeout"] == 725


def test_fails_when_visibility_is_below_six_times_the_lambda_timeout(
    stack: Stack, make_task: TaskFactory
) -> None:
    props = TaskQueueProps(
        tasks=(make_task(),),
        lambda_consumer_timeout=Duration.seconds(120),
        visibility_timeout=Duration.seconds(300),
    )
    with pytest.raises(
        ValueError,
        match=r"TaskQueue at Test/Tasks: visibility_timeout is 300 s but a Lambda with a 120 s "
        r"timeout consumes the queue; use at least 720 s",
    ):
        TaskQueue(stack, "Tasks", props)


def test_every_default_can_be_overridden(stack: Stack, make_task: TaskFactory) -> None:
    topic = sns.Topic(stack, "Topic")
    queue = TaskQueue(
        stack,
        "Tasks",
        TaskQueueProps(
            tasks=(make_task(),),
            visibility_timeout=Duration.seconds(45),
            max_receive_count=2,
            retention_period=Duration.days(1),
            dead_letter_retention_period=Duration.days(7),
            oldest_message_age_threshold=Duration.minutes(10),
            alarm_topic=topic,
        ),
    )
    template = Template.from_stack(stack)
    main, dlq = _ids(stack, queue)
    assert _queue_props(template, main)["VisibilityTimeout"] == 45
    assert _queue_props(template, main)["RedrivePolicy"]["maxReceiveCount"] == 2
    assert _queue_props(template, main)["MessageRetentionPeriod"] == 86400
    assert _queue_props(template, dlq)["MessageRetentionPeriod"] == 7 * 86400
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ApproximateAgeOfOldestMessage", "Threshold": 600},
    )
    template.all_resources_properties(
        "AWS::CloudWatch::Alarm",
        {"AlarmActions": [{"Ref": stack.get_logical_id(topic.node.default_child)}]},  # type: ignore[arg-type]
    )


def test_alarms_on_dlq_not_empty_and_oldest_message_age(
    stack: Stack, make_task: TaskFactory
) -> None:
    queue = TaskQueue(stack, "Tasks", TaskQueueProps(tasks=(make_task(),)))
    template = Template.from_stack(stack)
    main, dlq = _ids(stack, queue)
    template.resource_count_is("AWS::CloudWatch::Alarm", 2)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}],
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 0,
            "AlarmActions": Match.absent(),
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateAgeOfOldestMessage",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [main, "QueueName"]}}],
            "Threshold": 1800,
        },
    )


def test_alarms_can_be_turned_off(stack: Stack, make_task: TaskFactory) -> None:
    queue = TaskQueue(stack, "Tasks", TaskQueueProps(tasks=(make_task(),), alarms_enabled=False))
    Template.from_stack(stack).resource_count_is("AWS::CloudWatch::Alarm", 0)
    assert queue.dead_letter_alarm is None
    assert queue.oldest_message_alarm is None


def test_brings_its_own_dlq_and_creates_none(stack: Stack, make_task: TaskFactory) -> None:
    existing = sqs.Queue(stack, "Existing")
    queue = TaskQueue(
        stack, "Tasks", TaskQueueProps(tasks=(make_task(),), dead_letter_queue=existing)
    )
    Template.from_stack(stack).resource_count_is("AWS::SQS::Queue", 2)  # Existing + main
    assert queue.dead_letter_queue is existing


def test_fails_when_dlq_and_dlq_retention_both_set(stack: Stack, make_task: TaskFactory) -> None:
    with pytest.raises(ValueError, match=r"set 'dead_letter_queue'.*not both"):
        TaskQueueProps(
            tasks=(make_task(),),
            dead_letter_queue=sqs.Queue(stack, "Existing"),
            dead_letter_retention_period=Duration.days(3),
        )


def test_reports_every_bad_value_at_once(make_task: TaskFactory) -> None:
    with pytest.raises(ValueError) as raised:
        TaskQueueProps(
            tasks=(make_task(),),
            max_receive_count=0,
            retention_period=Duration.days(30),
            visibility_timeout=Duration.hours(13),
        )
    message = str(raised.value)
    assert message.startswith("TaskQueueProps: ")
    assert "max_receive_count is 0; SQS accepts 1..1000" in message
    assert "retention_period is 2592000 s" in message
    assert "visibility_timeout is 46800 s" in message


def test_fails_without_tasks() -> None:
    with pytest.raises(ValueError, match="'tasks' is empty"):
        TaskQueueProps(tasks=())


def test_producer_grant_sends_to_the_queue_only(stack: Stack, make_task: TaskFactory) -> None:
    queue = TaskQueue(stack, "Tasks", TaskQueueProps(tasks=(make_task(),)))
    role = iam.Role(stack, "Producer", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
    queue.grant_send(role)
    main, _ = _ids(stack, queue)
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"],
                        "Effect": "Allow",
                        "Resource": {"Fn::GetAtt": [main, "Arn"]},
                    }
                ]
            }
        },
    )


def test_consumer_grant_consumes_and_may_dead_letter(stack: Stack, make_task: TaskFactory) -> None:
    queue = TaskQueue(stack, "Tasks", TaskQueueProps(tasks=(make_task(),)))
    role = iam.Role(stack, "Worker", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
    queue.grant_consume(role)
    main, dlq = _ids(stack, queue)
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": Match.array_with(["sqs:SendMessage"]),
                                "Resource": {"Fn::GetAtt": [dlq, "Arn"]},
                            }
                        ),
                        Match.object_like(
                            {
                                "Action": Match.array_with(
                                    ["sqs:DeleteMessage", "sqs:ReceiveMessage"]
                                ),
                                "Resource": {"Fn::GetAtt": [main, "Arn"]},
                            }
                        ),
                    ]
                )
            }
        },
    )
