"""TaskSchedule: expression, envelope input, delivery settings and bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template

from runtime.catalogue import ScheduleTrigger
from task_constructs.task_schedule import TaskSchedule, TaskScheduleProps
from tests.task_constructs.conftest import TaskFactory


def _schedule(stack: Stack) -> dict:
    resources = Template.from_stack(stack).find_resources("AWS::Scheduler::Schedule")
    (schedule,) = resources.values()
    return schedule["Properties"]


def _arn(stack: Stack, construct: object) -> dict:
    return {"Fn::GetAtt": [stack.get_logical_id(construct.node.default_child), "Arn"]}  # type: ignore[attr-defined]


def test_sends_the_envelope_with_scheduler_context_attributes(
    stack: Stack, make_task: TaskFactory, nightly: ScheduleTrigger
) -> None:
    queue = sqs.Queue(stack, "Queue")
    TaskSchedule(
        stack,
        "Nightly",
        TaskScheduleProps(task=make_task(triggers=(nightly,)), trigger=nightly, queue=queue),
    )
    target = _schedule(stack)["Target"]
    assert target["Arn"] == _arn(stack, queue)
    assert json.loads(target["Input"]) == {
        "task": "sample-task",
        "id": "<aws.scheduler.execution-id>",
        "version": 1,
        "created_at": "<aws.scheduler.scheduled-time>",
        "payload": {"period": "day"},
    }


def test_uses_expression_and_time_zone_from_the_catalogue(
    stack: Stack, make_task: TaskFactory, nightly: ScheduleTrigger
) -> None:
    TaskSchedule(
        stack,
        "Nightly",
        TaskScheduleProps(
            task=make_task(triggers=(nightly,)), trigger=nightly, queue=sqs.Queue(stack, "Q")
        ),
    )
    schedule = _schedule(stack)
    assert schedule["ScheduleExpression"] == "cron(0 2 * * ? *)"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/London"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["State"] == "ENABLED"


def test_retries_3_times_within_an_hour_then_dead_letters_by_default(
    stack: Stack, make_task: TaskFactory, nightly: ScheduleTrigger
) -> None:
    schedule = TaskSchedule(
        stack,
        "Nightly",
        TaskScheduleProps(
            task=make_task(triggers=(nightly,)), trigger=nightly, queue=sqs.Queue(stack, "Q")
        ),
    )
    target = _schedule(stack)["Target"]
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3}
    assert target["DeadLetterConfig"] == {"Arn": _arn(stack, schedule.dead_letter_queue)}
    Template.from_stack(stack).has_resource_properties(
        "AWS::SQS::Queue",
        {"MessageRetentionPeriod": 14 * 86400, "SqsManagedSseEnabled": True},
    )


def test_delivery_settings_can_be_overridden(
    stack: Stack, make_task: TaskFactory, nightly: ScheduleTrigger
) -> None:
    dlq = sqs.Queue(stack, "MyDlq")
    TaskSchedule(
        stack,
        "Nightly",
        TaskScheduleProps(
            task=make_task(triggers=(nightly,)),
            trigger=nightly,
            queue=sqs.Queue(stack, "Q"),
            dead_letter_queue=dlq,
            retry_attempts=10,
            max_event_age=Duration.hours(6),
            flexible_window=Duration.minutes(15),
            enabled=False,
        ),
    )
    schedule = _schedule(stack)
    assert schedule["Target"]["RetryPolicy"] == {
        "MaximumEventAgeInSeconds": 21600,
        "MaximumRetryAttempts": 10,
    }
    assert schedule["Target"]["DeadLetterConfig"] == {"Arn": _arn(stack, dlq)}
    assert schedule["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}
    assert schedule["State"] == "DISABLED"
    Template.from_stack(stack).resource_count_is("AWS::SQS::Queue", 2)  # no new DLQ


def test_can_invoke_a_function_such_as_the_http_invoker(
    stack: Stack, make_task: TaskFactory, nightly: ScheduleTrigger
) -> None:
    invoker = lambda_.Function(
        stack,
        "Invoker",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
    )
    TaskSchedule(
        stack,
        "Nightly",
        TaskScheduleProps(task=make_task(triggers=(nightly,)), trigger=nightly, function=invoker),
    )
    target = _schedule(stack)["Target"]
    assert target["Arn"] == _arn(stack, invoker)
    assert json.loads(target["Input"])["id"] == "<aws.scheduler.execution-id>"
    Template.from_stack(stack).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Action": "lambda:InvokeFunction"})]
                )
            }
        },
    )


@pytest.mark.parametrize("targets", [{}, {"queue": True, "function": True}])
def test_fails_unless_exactly_one_target(
    stack: Stack, make_task: TaskFactory, nightly: ScheduleTrigger, targets: dict
) -> None:
    kwargs: dict[str, Any] = {}
    if "queue" in targets:
        kwargs["queue"] = sqs.Queue(stack, "Q")
    if "function" in targets:
        kwargs["function"] = lambda_.Function(
            stack,
            "F",
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(event, context): pass"),
        )
    with pytest.raises(ValueError, match=r"TaskScheduleProps: set (one|only one) of 'queue' or"):
        TaskScheduleProps(task=make_task(triggers=(nightly,)), trigger=nightly, **kwargs)


def test_reports_bad_delivery_settings_at_once(
    stack: Stack, make_task: TaskFactory, nightly: ScheduleTrigger
) -> None:
    with pytest.raises(ValueError) as raised:
        TaskScheduleProps(
            task=make_task(triggers=(nightly,)),
            trigger=nightly,
            queue=sqs.Queue(stack, "Q"),
            retry_attempts=200,
            max_event_age=Duration.days(2),
            flexible_window=Duration.hours(25),
        )
    message = str(raised.value)
    assert "retry_attempts is 200; use 0..185" in message
    assert "max_event_age is 172800 s" in message
    assert "flexible_window is 90000 s" in message


def test_fails_when_the_trigger_is_not_the_tasks_schedule(
    stack: Stack, make_task: TaskFactory, nightly: ScheduleTrigger
) -> None:
    with pytest.raises(ValueError, match="is not one of task 'sample-task''s schedules"):
        TaskScheduleProps(task=make_task(), trigger=nightly, queue=sqs.Queue(stack, "Q"))
