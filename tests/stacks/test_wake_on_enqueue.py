"""worker-service's waker as synthesized: its rights, who may nudge it, every path that
does, and ``-c wakeOnEnqueue=false``.

AWS's rules checked here:
- IAM: ``ecs:UpdateService`` and ``ecs:DescribeServices`` support the service ARN as
  the resource ("Actions, resources, and condition keys for Amazon Elastic Container
  Service", Service Authorization Reference), so the waker's role names its service.
- ``lambda:InvokeFunction`` on the function's ARN alone ("Actions, resources, and
  condition keys for AWS Lambda"): an unqualified ARN, no ``:*`` versions or aliases.
- EventBridge: a rule has up to five targets ("Amazon EventBridge quotas"), each with
  its own RetryPolicy and DeadLetterConfig ("Event retry policy and using dead-letter
  queues").
- EventBridge Scheduler: one target per schedule ("Schedule types", Scheduler user
  guide), hence the wake twin of each schedule.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from comparison.inputs.templates import parse_template
from comparison.model.scaling import scaling_reading
from runtime.contract import WAKER_FUNCTION_ENV
from runtime.waker import handler as waker_handler  # noqa: F401  # the handler the template names
from tests.conftest import SynthesizedApp
from tests.stacks.test_ecs_topologies import _of_type, _synth, _task_role_statements

STACK = "AsyncTasks-WorkerService"


def _waker_id(template: dict[str, Any]) -> str:
    (found,) = [
        k
        for k, r in _of_type(template, "AWS::Lambda::Function").items()
        if r.get("Metadata", {}).get("AsyncTasks", {}).get("role") == "waker"
    ]
    return found


def _policy_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in _of_type(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def template(synthesized: SynthesizedApp) -> dict[str, Any]:
    return synthesized.templates[STACK]


def test_the_waker_may_describe_and_update_only_its_service(template: dict[str, Any]) -> None:
    waker = template["Resources"][_waker_id(template)]
    role_id = waker["Properties"]["Role"]["Fn::GetAtt"][0]
    (service_id,) = [k for k in _of_type(template, "AWS::ECS::Service") if k.startswith("Workers")]
    ecs = [
        s
        for s in _policy_statements(template, role_id)
        if any(a.startswith("ecs:") for a in _listed(s["Action"]))
    ]
    assert ecs == [
        {
            "Action": ["ecs:DescribeServices", "ecs:UpdateService"],
            "Effect": "Allow",
            "Resource": {"Ref": service_id},
        }
    ]
    every_action = {a for s in _policy_statements(template, role_id) for a in _listed(s["Action"])}
    assert {a.split(":")[0] for a in every_action} == {"ecs", "logs", "xray"}
    variables = waker["Properties"]["Environment"]["Variables"]
    assert variables["SERVICE_NAME"] == {"Fn::GetAtt": [service_id, "Name"]}
    assert waker["Properties"]["Handler"] == "runtime.waker.handler"


def test_a_lost_nudge_is_not_retried_or_kept(template: dict[str, Any]) -> None:
    (config,) = _of_type(template, "AWS::Lambda::EventInvokeConfig").values()
    assert config["Properties"]["FunctionName"] == {"Ref": _waker_id(template)}
    assert config["Properties"]["MaximumRetryAttempts"] == 0
    assert config["Properties"]["MaximumEventAgeInSeconds"] == 60


def test_the_web_app_knows_the_waker_and_may_invoke_only_it(template: dict[str, Any]) -> None:
    waker_id = _waker_id(template)
    (task_def,) = [
        r
        for k, r in _of_type(template, "AWS::ECS::TaskDefinition").items()
        if k.startswith("WebApp")
    ]
    (container,) = task_def["Properties"]["ContainerDefinitions"]
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert environment[WAKER_FUNCTION_ENV] == {"Ref": waker_id}
    invokes = [
        s
        for s in _task_role_statements(template, "WebApp")
        if any(a.startswith("lambda:") for a in _listed(s["Action"]))
    ]
    assert invokes == [
        {
            "Action": "lambda:InvokeFunction",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [waker_id, "Arn"]},
        }
    ]


def test_every_event_rule_nudges_the_waker_and_keeps_its_task_targets_dlq(
    template: dict[str, Any],
) -> None:
    waker_id = _waker_id(template)
    rules = [
        r
        for r in _of_type(template, "AWS::Events::Rule").values()
        if "EventPattern" in r["Properties"]
    ]
    assert rules
    for rule in rules:
        task_target, nudge = rule["Properties"]["Targets"]
        # cdk-nag's Serverless-EventBusDLQ is acknowledged on the rule for the nudge only:
        # the task's target must keep its DLQ.
        assert "Arn" in task_target["DeadLetterConfig"]
        assert task_target["RetryPolicy"]["MaximumRetryAttempts"] > 0
        assert nudge["Arn"] == {"Fn::GetAtt": [waker_id, "Arn"]}
        assert nudge["RetryPolicy"] == {"MaximumEventAgeInSeconds": 60, "MaximumRetryAttempts": 0}
        assert "task" not in json.loads(nudge["Input"])  # a nudge is not an envelope


def test_every_schedule_has_a_wake_twin_at_the_same_times(template: dict[str, Any]) -> None:
    waker_id = _waker_id(template)
    schedules = list(_of_type(template, "AWS::Scheduler::Schedule").values())
    to_waker = [
        s
        for s in schedules
        if s["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [waker_id, "Arn"]}
    ]
    to_queue = [s for s in schedules if s not in to_waker]
    assert to_queue and len(to_waker) == len(to_queue)

    def when(schedule: dict[str, Any]) -> tuple[str, str]:
        p = schedule["Properties"]
        return p["ScheduleExpression"], p["ScheduleExpressionTimezone"]

    assert sorted(map(when, to_waker)) == sorted(map(when, to_queue))
    for twin in to_waker:
        target = twin["Properties"]["Target"]
        assert "task" not in json.loads(target["Input"])
        assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 60, "MaximumRetryAttempts": 0}
        role_id = target["RoleArn"]["Fn::GetAtt"][0]
        statements = _policy_statements(template, role_id)
        # Scheduler's Lambda target grants the function and its versions (the CDK's
        # LambdaInvoke); nothing else.
        arn = {"Fn::GetAtt": [waker_id, "Arn"]}
        assert statements == [
            {
                "Action": "lambda:InvokeFunction",
                "Effect": "Allow",
                "Resource": [arn, {"Fn::Join": ["", [arn, ":*"]]}],
            }
        ]


@pytest.mark.slow  # two synths of their own (about 1 s each)
def test_wake_on_enqueue_false_leaves_only_the_alarm_path() -> None:
    off = _synth("worker-service", wakeOnEnqueue="false")[STACK]
    on = _synth("worker-service")[STACK]
    roles = [
        r.get("Metadata", {}).get("AsyncTasks", {}).get("role")
        for r in _of_type(off, "AWS::Lambda::Function").values()
    ]
    assert "waker" not in roles and "backlog-metric" in roles
    for rule in _of_type(off, "AWS::Events::Rule").values():
        assert len(rule["Properties"]["Targets"]) == 1
    assert len(_of_type(on, "AWS::Scheduler::Schedule")) == 2 * len(
        _of_type(off, "AWS::Scheduler::Schedule")
    )
    statements = _task_role_statements(off, "WebApp")
    assert not [s for s in statements if "lambda:InvokeFunction" in _listed(s["Action"])]
    # the alarm path is the same with and without the waker
    assert (
        _of_type(off, "AWS::CloudWatch::Alarm").keys()
        == _of_type(on, "AWS::CloudWatch::Alarm").keys()
    )
    assert _of_type(off, "AWS::ApplicationAutoScaling::ScalingPolicy") == _of_type(
        on, "AWS::ApplicationAutoScaling::ScalingPolicy"
    )
    # and the comparison follows the template: the waker's path only where it is deployed
    for document, woken in ((off, False), (on, True)):
        parsed = parse_template(STACK, document)
        (worker,) = parsed.with_role("worker")
        reading = scaling_reading(parsed, worker)
        assert reading is not None and (reading.waker is not None) is woken


@pytest.mark.slow  # a synth of its own
def test_a_vpc_without_internet_gets_a_lambda_endpoint_for_the_nudge() -> None:
    endpoints = _synth("worker-service", network="endpoints")[STACK]
    services = [
        json.dumps(r["Properties"]["ServiceName"])
        for r in _of_type(endpoints, "AWS::EC2::VPCEndpoint").values()
    ]
    assert sum(".lambda" in s for s in services) == 1


def test_a_vpc_with_a_nat_gets_no_lambda_endpoint(template: dict[str, Any]) -> None:
    assert not _of_type(template, "AWS::EC2::VPCEndpoint") or all(
        ".lambda" not in json.dumps(r["Properties"]["ServiceName"])
        for r in _of_type(template, "AWS::EC2::VPCEndpoint").values()
    )
