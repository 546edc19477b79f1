"""The lambdas topology as composed: triggers, producer role, data grants."""

from __future__ import annotations

import json
import re

from aws_cdk.assertions import Template

from runtime.catalogue import CATALOGUE
from stacks.lambdas import LambdasStack
from tests.conftest import SynthesizedApp


def _stack(synthesized: SynthesizedApp) -> LambdasStack:
    stack = synthesized.stacks["AsyncTasks-Lambdas"]
    assert isinstance(stack, LambdasStack)
    return stack


def test_one_function_and_queue_pair_per_catalogue_entry(synthesized: SynthesizedApp) -> None:
    template = Template.from_json(synthesized.templates["AsyncTasks-Lambdas"])
    template.resource_count_is("AWS::Lambda::Function", len(CATALOGUE))
    template.resource_count_is("AWS::Lambda::EventSourceMapping", len(CATALOGUE))
    # a queue and a DLQ per task, plus the shared delivery DLQ of the triggers
    template.resource_count_is("AWS::SQS::Queue", 2 * len(CATALOGUE) + 1)


def test_scheduled_tasks_reach_their_own_queue(synthesized: SynthesizedApp) -> None:
    resources = synthesized.templates["AsyncTasks-Lambdas"]["Resources"]
    schedules = [r for r in resources.values() if r["Type"] == "AWS::Scheduler::Schedule"]
    targets = {
        json.loads(s["Properties"]["Target"]["Input"])["task"]: s["Properties"]["Target"]["Arn"]
        for s in schedules
    }
    assert sorted(targets) == ["generate-report", "send-bulk-email"]
    for task, arn in targets.items():
        queue_id = arn["Fn::GetAtt"][0]
        assert re.fullmatch(rf"Tasks{task.replace('-', '')}Queue[0-9A-F]{{8}}", queue_id), queue_id


def test_guardduty_scan_results_reach_the_virus_scan_queue(synthesized: SynthesizedApp) -> None:
    resources = synthesized.templates["AsyncTasks-Lambdas"]["Resources"]
    (rule,) = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule"
        and r["Properties"]["EventPattern"]["source"] == ["aws.guardduty"]
    ]
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.guardduty"],
        "detail-type": ["GuardDuty Malware Protection Object Scan Result"],
        # only this deployment's bucket (tests/stacks/test_deployability.py)
        "detail": {"s3ObjectDetails": {"bucketName": [{"Ref": _uploads_bucket_id(resources)}]}},
    }
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"]["Fn::GetAtt"][0].startswith("TasksvirusscanresultQueue")


def test_web_app_producer_role_may_send_to_exactly_the_on_demand_task_queues(
    synthesized: SynthesizedApp,
) -> None:
    stack = _stack(synthesized)
    resources = synthesized.templates["AsyncTasks-Lambdas"]["Resources"]
    producer = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy"
        and r["Properties"]["Roles"][0]["Ref"].startswith("WebAppProducerRole")
    ]
    (policy,) = producer
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    actions = {action for s in statements for action in s["Action"]}
    assert actions == {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
    resources_granted = sorted(
        ref["Fn::GetAtt"][0]
        for s in statements
        for ref in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    )
    expected = sorted(
        stack.resolve(stack.get_logical_id(q.queue.node.default_child))  # type: ignore[arg-type]
        for q in _task_queues(stack)
        if all(CATALOGUE[task.name].on_demand for task in q.tasks)
    )
    assert len(expected) == 3  # property-bulk-upload, generate-report, send-bulk-email
    assert resources_granted == expected


def test_functions_get_the_table_for_their_idempotency_ledger(
    synthesized: SynthesizedApp,
) -> None:
    resources = synthesized.templates["AsyncTasks-Lambdas"]["Resources"]
    functions = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    for function in functions:
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["ASYNC_TASKS_TABLE"] == {"Ref": _table_id(resources)}
        assert "ASYNC_TASKS_DLQ_URL" in variables


def test_outputs_name_the_producer_environment_variables(synthesized: SynthesizedApp) -> None:
    outputs = synthesized.templates["AsyncTasks-Lambdas"]["Outputs"]
    descriptions = {o.get("Description", "") for o in outputs.values()}
    for name, task in CATALOGUE.items():
        variable = "ASYNC_TASKS_QUEUE_URL_" + name.upper().replace("-", "_")
        told = f"Set as {variable} in the web app" in descriptions
        assert told == task.on_demand, name


def _task_queues(stack: LambdasStack) -> list:
    from task_constructs.task_functions import TaskFunctions

    tasks = stack.node.find_child("Tasks")
    assert isinstance(tasks, TaskFunctions)
    return list(tasks.queues.values())


def _table_id(resources: dict) -> str:
    (table_id,) = [k for k, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table"]
    return table_id


def _uploads_bucket_id(resources: dict) -> str:
    (bucket,) = [
        k for k, r in resources.items() if r["Type"] == "AWS::S3::Bucket" and "Uploads" in k
    ]
    return bucket
