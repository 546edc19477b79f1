"""TaskEventRule and TaskTriggers: event patterns, envelope wrapping, shared delivery DLQ."""

from __future__ import annotations

import pytest
from aws_cdk import Stack
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from runtime.catalogue import EventTrigger, OnDemand, ScheduleTrigger, TaskCatalogue
from task_constructs.task_event_rule import TaskEventRule, TaskEventRuleProps
from task_constructs.task_triggers import TaskTriggers, TaskTriggersProps
from tests.task_constructs.conftest import TaskFactory

_SCAN = EventTrigger(
    pattern={"source": ["aws.guardduty"], "detail-type": ["Scan"]}, description="scans"
)


def _rule(stack: Stack) -> dict:
    (rule,) = Template.from_stack(stack).find_resources("AWS::Events::Rule").values()
    return rule["Properties"]


def test_rule_matches_the_catalogue_pattern_and_wraps_the_whole_event(
    stack: Stack, make_task: TaskFactory
) -> None:
    queue = sqs.Queue(stack, "Queue")
    TaskEventRule(
        stack,
        "Scans",
        TaskEventRuleProps(task=make_task(triggers=(_SCAN,)), trigger=_SCAN, queue=queue),
    )
    rule = _rule(stack)
    assert rule["EventPattern"] == {"source": ["aws.guardduty"], "detail-type": ["Scan"]}
    (target,) = rule["Targets"]
    assert target["InputTransformer"] == {
        "InputPathsMap": {"id": "$.id", "time": "$.time"},
        "InputTemplate": '{"task": "sample-task", "version": 1, "id": <id>, '
        '"created_at": <time>, "payload": <aws.events.event.json>}',
    }
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3}
    assert "DeadLetterConfig" in target


def test_rule_refuses_unknown_pattern_keys(stack: Stack, make_task: TaskFactory) -> None:
    odd = EventTrigger(pattern={"sauce": ["x"]})
    with pytest.raises(ValueError, match=r"event pattern keys \['sauce'\] are not EventBridge"):
        TaskEventRuleProps(
            task=make_task(triggers=(odd,)), trigger=odd, queue=sqs.Queue(stack, "Q")
        )


def test_triggers_share_one_delivery_dlq_and_namespace_by_task(
    stack: Stack, make_task: TaskFactory
) -> None:
    # GIVEN one scheduled task, one event-triggered task and one on-demand task
    schedule = ScheduleTrigger(expression="rate(1 hour)")
    catalogue = TaskCatalogue(
        [
            make_task(name="hourly", triggers=(schedule,)),
            make_task(name="scans", triggers=(_SCAN,)),
            make_task(name="manual", triggers=(OnDemand(),)),
        ]
    )
    queue = sqs.Queue(stack, "Queue")
    # WHEN the triggers are wired to one queue
    triggers = TaskTriggers(
        stack,
        "Triggers",
        TaskTriggersProps(catalogue=catalogue, queues=dict.fromkeys(catalogue, queue)),
    )
    # THEN one schedule, one rule and a single delivery DLQ exist
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Scheduler::Schedule", 1)
    template.resource_count_is("AWS::Events::Rule", 1)
    template.resource_count_is("AWS::SQS::Queue", 2)
    assert [s.node.path for s in triggers.schedules] == ["Test/Triggers/hourly/Schedule1"]
    assert [r.node.path for r in triggers.event_rules] == ["Test/Triggers/scans/Event1"]


def test_triggers_fail_when_a_triggered_task_has_no_queue(
    stack: Stack, make_task: TaskFactory
) -> None:
    catalogue = TaskCatalogue([make_task(name="scans", triggers=(_SCAN,))])
    with pytest.raises(
        ValueError, match=r"'queues' has no queue for triggered task\(s\) \['scans'\]"
    ):
        TaskTriggersProps(catalogue=catalogue, queues={})
