"""TaskFunctions: one function and queue per task, event source, least privilege, limits."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk import Duration, Stack
from aws_cdk.assertions import Match, Template

from runtime.catalogue import CATALOGUE, TaskCatalogue
from task_constructs.task_functions import TaskFunctions, TaskFunctionsProps
from tests.conftest import empty_stack
from tests.task_constructs.conftest import TaskFactory, task_type


def _two_tasks() -> TaskCatalogue:
    return TaskCatalogue(
        [
            task_type(name="quick", max_duration_seconds=60, memory_mib=256),
            task_type(name="slow", max_duration_seconds=600, memory_mib=2048, max_concurrency=3),
        ]
    )


@pytest.fixture
def two_tasks() -> TaskCatalogue:
    return _two_tasks()


@pytest.fixture(scope="module")
def defaults() -> tuple[Stack, TaskFunctions]:
    """TaskFunctions for the two tasks with default props, built once for this module's
    tests that only read it (each build costs ~0.2 s of jsii calls)."""
    stack = empty_stack()
    return stack, TaskFunctions(stack, "Tasks", TaskFunctionsProps(catalogue=_two_tasks()))


def _function(stack: Stack, functions: TaskFunctions, name: str) -> dict:
    logical_id = stack.get_logical_id(functions.functions[name].node.default_child)  # type: ignore[arg-type]
    return Template.from_stack(stack).to_json()["Resources"][logical_id]["Properties"]


def test_creates_one_python_313_arm64_function_per_task(
    defaults: tuple[Stack, TaskFunctions],
) -> None:
    stack, functions = defaults
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Lambda::Function", 2)
    template.resource_count_is("AWS::Lambda::EventSourceMapping", 2)
    template.all_resources_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.13",
            "Architectures": ["arm64"],
            "Handler": "runtime.lambda_batch.handler",
            "TracingConfig": {"Mode": "Active"},
        },
    )
    slow = _function(stack, functions, "slow")
    assert slow["MemorySize"] == 2048
    assert slow["Timeout"] == 600
    assert slow["Environment"]["Variables"]["TASK_NAME"] == "slow"


def test_uses_the_public_powertools_layer_for_the_runtime_and_architecture(
    defaults: tuple[Stack, TaskFunctions],
) -> None:
    stack, functions = defaults
    (layer,) = _function(stack, functions, "quick")["Layers"]
    rendered = json.dumps(layer)
    assert ":017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27" in rendered


def test_event_source_reports_batch_item_failures_with_catalogue_concurrency(
    defaults: tuple[Stack, TaskFunctions],
) -> None:
    stack, functions = defaults
    template = Template.from_stack(stack)
    slow_queue = stack.get_logical_id(functions.queues["slow"].queue.node.default_child)  # type: ignore[arg-type]
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [slow_queue, "Arn"]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": 1,
            "ScalingConfig": {"MaximumConcurrency": 3},
        },
    )
    quick_queue = stack.get_logical_id(functions.queues["quick"].queue.node.default_child)  # type: ignore[arg-type]
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [quick_queue, "Arn"]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": 10,
            "ScalingConfig": Match.absent(),
        },
    )


def test_default_batch_fits_the_timeout_and_visibility_is_six_times_it(
    defaults: tuple[Stack, TaskFunctions],
) -> None:
    # quick: 60 s max -> batch 10 -> timeout 600 s -> visibility 3600 s
    stack, functions = defaults
    assert _function(stack, functions, "quick")["Timeout"] == 600
    assert functions.queues["quick"].visibility_timeout.to_seconds() == 3600
    assert functions.queues["slow"].visibility_timeout.to_seconds() == 3600


def test_batching_window_and_batch_size_come_from_props(
    stack: Stack, two_tasks: TaskCatalogue
) -> None:
    functions = TaskFunctions(
        stack,
        "Tasks",
        TaskFunctionsProps(
            catalogue=two_tasks, batch_size=1, max_batching_window=Duration.seconds(20)
        ),
    )
    Template.from_stack(stack).all_resources_properties(
        "AWS::Lambda::EventSourceMapping",
        {"BatchSize": 1, "MaximumBatchingWindowInSeconds": 20},
    )
    assert functions.queues["slow"].visibility_timeout.to_seconds() == 6 * 600 + 20


def test_each_function_may_consume_only_its_own_queue(
    defaults: tuple[Stack, TaskFunctions],
) -> None:
    stack, functions = defaults
    template = Template.from_stack(stack).to_json()["Resources"]
    queue_ids = {
        name: (
            stack.get_logical_id(q.queue.node.default_child),  # type: ignore[arg-type]
            stack.get_logical_id(q.dead_letter_queue.node.default_child),  # type: ignore[arg-type]
        )
        for name, q in functions.queues.items()
    }
    for name in ("quick", "slow"):
        role = functions.functions[name].role
        assert role is not None
        policy_id = stack.get_logical_id(role.node.find_child("DefaultPolicy").node.default_child)  # type: ignore[arg-type]
        policy = json.dumps(template[policy_id]["Properties"]["PolicyDocument"])
        referenced = set(re.findall(r"Tasks\w+?Queue\w*", policy))
        own_queue, own_dlq = queue_ids[name]
        assert referenced == {own_queue, own_dlq}, (name, referenced)


def test_roles_carry_no_managed_policies(defaults: tuple[Stack, TaskFunctions]) -> None:
    stack, _ = defaults
    Template.from_stack(stack).all_resources_properties(
        "AWS::IAM::Role", {"ManagedPolicyArns": Match.absent()}
    )


def test_log_groups_keep_one_month_by_default(defaults: tuple[Stack, TaskFunctions]) -> None:
    stack, _ = defaults
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::Logs::LogGroup", 2)
    template.all_resources_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})


def test_refuses_a_task_longer_than_15_minutes_naming_it(
    stack: Stack, make_task: TaskFactory
) -> None:
    catalogue = TaskCatalogue(
        [
            make_task(
                name="generate-report", expected_duration_seconds=600, max_duration_seconds=1200
            )
        ]
    )
    with pytest.raises(
        ValueError,
        match=re.escape(
            "TaskFunctions at Test/Tasks: task 'generate-report' has max_duration 20 min; "
            "Lambda allows at most 15 min. Run it on worker-service or split it."
        ),
    ):
        TaskFunctions(stack, "Tasks", TaskFunctionsProps(catalogue=catalogue))


def test_refuses_a_batch_that_cannot_finish_within_15_minutes(
    stack: Stack, two_tasks: TaskCatalogue
) -> None:
    with pytest.raises(
        ValueError, match=r"task 'slow': a batch of 2 x max_duration 600 s exceeds Lambda's 15 min"
    ):
        TaskFunctions(stack, "Tasks", TaskFunctionsProps(catalogue=two_tasks, batch_size=2))


def test_refuses_out_of_range_batch_settings() -> None:
    with pytest.raises(ValueError) as raised:
        TaskFunctionsProps(
            catalogue=CATALOGUE,
            batch_size=11,
            max_batching_window=Duration.minutes(6),
        )
    assert "batch_size is 11; use 1..10" in str(raised.value)
    assert "max_batching_window is 360 s; use 0..300 s" in str(raised.value)


def test_grants_each_task_exactly_the_queues_it_enqueues(
    stack: Stack, make_task: TaskFactory
) -> None:
    # GIVEN a scanner that hands work to a loader, which continues itself
    catalogue = TaskCatalogue(
        [
            make_task(name="scan", enqueues=("load",)),
            make_task(name="load", enqueues=("load",)),
            make_task(name="idle"),
        ]
    )
    functions = TaskFunctions(stack, "Tasks", TaskFunctionsProps(catalogue=catalogue))
    template = Template.from_stack(stack).to_json()["Resources"]
    load_queue = stack.get_logical_id(functions.queues["load"].queue.node.default_child)  # type: ignore[arg-type]

    def sends_to(name: str) -> set[str]:
        role = functions.functions[name].role
        assert role is not None
        policy_id = stack.get_logical_id(role.node.find_child("DefaultPolicy").node.default_child)  # type: ignore[arg-type]
        statements = template[policy_id]["Properties"]["PolicyDocument"]["Statement"]
        targets = set()
        for statement in statements:
            if "sqs:SendMessage" not in statement["Action"]:
                continue
            resources = statement["Resource"]
            for resource in resources if isinstance(resources, list) else [resources]:
                logical_id = resource["Fn::GetAtt"][0]
                if "DeadLetter" not in logical_id:  # every task may dead-letter its own
                    targets.add(logical_id)
        return targets

    # THEN the routing variable and the send grant go exactly where the catalogue says
    assert sends_to("scan") == {load_queue}
    assert sends_to("load") == {load_queue}
    assert sends_to("idle") == set()
    scan = _function(stack, functions, "scan")["Environment"]["Variables"]
    assert scan["ASYNC_TASKS_QUEUE_URL_LOAD"] == {"Ref": load_queue}


def test_only_email_tasks_may_send_as_the_configured_sender(
    stack: Stack, make_task: TaskFactory
) -> None:
    catalogue = TaskCatalogue([make_task(name="mailer", sends_email=True), make_task(name="quiet")])
    functions = TaskFunctions(
        stack,
        "Tasks",
        TaskFunctionsProps(catalogue=catalogue, email_sender="tasks@example.com"),
    )
    policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
    ses = [p for p in policies.values() if "ses:SendBulkTemplatedEmail" in json.dumps(p)]
    assert len(ses) == 1
    mailer_role = stack.resolve(functions.functions["mailer"].role.role_name)  # type: ignore[union-attr]
    assert ses[0]["Properties"]["Roles"] == [mailer_role]
    assert "identity/tasks@example.com" in json.dumps(ses[0])
    mailer = _function(stack, functions, "mailer")["Environment"]["Variables"]
    assert mailer["ASYNC_TASKS_EMAIL_SENDER"] == "tasks@example.com"
    # ... and read the account's send rate, which all its senders share
    # (on "*": the action has no resource type; CDK may merge it with other "*" actions)
    quota = [
        statement
        for statement in ses[0]["Properties"]["PolicyDocument"]["Statement"]
        if "ses:GetSendQuota" in json.dumps(statement["Action"])
    ]
    assert [(q["Effect"], q["Resource"]) for q in quota] == [("Allow", "*")]
