"""Lambda usage: requests and GB-seconds from MemorySize and Architectures, INIT included."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.comparison.helpers import (
    arn,
    day_run,
    event_source,
    extracted,
    resource,
    template,
    usage_of,
)

FUNCTION = {
    "MemorySize": 1024,
    "Architectures": ["arm64"],
    "Environment": {"Variables": {"TASK_NAME": "generate-report"}},
}


def _task_lambda_stack(properties=None, **metadata):  # type: ignore[no-untyped-def]
    return template(
        {
            "Queue": resource("AWS::SQS::Queue"),
            "Fn": resource("AWS::Lambda::Function", properties or FUNCTION, **metadata),
            "Esm": event_source("Fn", "Queue"),
        }
    )


def test_task_lambda_without_metadata_is_found_through_its_event_source(workload) -> None:
    usages = extracted(_task_lambda_stack(), workload)
    report = workload.task("generate-report")
    assert usage_of(usages, "lambda.request") == report.volume_per_month
    assert usage_of(usages, "lambda.gb_second.arm64") == pytest.approx(
        report.volume_per_month * report.duration_seconds * 1.0
    )


def test_metadata_names_the_task_and_x86_is_priced_as_x86(workload) -> None:
    properties = {"MemorySize": 512}
    usages = extracted(
        _task_lambda_stack(properties, role="task", task="send-bulk-email"), workload
    )
    email = workload.task("send-bulk-email")
    assert usage_of(usages, "lambda.gb_second.x86_64") == pytest.approx(
        email.volume_per_month * email.duration_seconds * 0.5
    )


def test_cold_starts_add_init_gb_seconds(workload) -> None:
    # GIVEN a simulated day of 30 runs, 3 of them cold, on a 1 GB function
    warm = usage_of(extracted(_task_lambda_stack(), workload), "lambda.gb_second.arm64")
    cold = usage_of(
        extracted(_task_lambda_stack(), workload, runs={"Fn": day_run(cold_starts=3, runs=30)}),
        "lambda.gb_second.arm64",
    )
    # THEN 10% of generate-report's 900 runs a month pay 1 s of INIT at 1 GB: 90 GB-s
    assert cold - warm == pytest.approx(900 * 0.1 * 1.0 * 1.0)


def test_cold_starts_are_never_more_than_runs(workload) -> None:
    # GIVEN a simulated day that drew 7 runs, all cold, of a task that runs 200 times a month
    # (more than 200 / 30.42 = 6.6 a day: the old model made 7 x 30.42 = 213 cold starts)
    stack = _task_lambda_stack(
        {"MemorySize": 512, "Architectures": ["arm64"]}, role="task", task="send-bulk-email"
    )
    warm = usage_of(extracted(stack, workload), "lambda.gb_second.arm64")
    cold = usage_of(
        extracted(stack, workload, runs={"Fn": day_run(cold_starts=7, runs=7)}),
        "lambda.gb_second.arm64",
    )
    # THEN at most every one of the 200 runs pays 1 s of INIT at its 512 MiB
    assert cold - warm == pytest.approx(200 * 1.0 * 0.5)


def test_metric_lambda_runs_on_its_schedule_and_puts_one_datapoint_per_run(workload) -> None:
    stack = template(
        {
            "Metric": resource(
                "AWS::Lambda::Function",
                {"MemorySize": 128, "Architectures": ["arm64"]},
                role="backlog-metric",
            ),
            "Rule": resource(
                "AWS::Events::Rule",
                {
                    "ScheduleExpression": "rate(1 minute)",
                    "Targets": [{"Arn": arn("Metric"), "Id": "T"}],
                },
            ),
        }
    )
    usages = extracted(stack, workload)
    assert usage_of(usages, "lambda.request") == 43_800
    assert usage_of(usages, "cloudwatch.api_request") == 43_800
    assert usage_of(usages, "lambda.gb_second.arm64") == pytest.approx(43_800 * 0.2 * 0.125)


def test_metric_lambda_without_a_schedule_is_assumed_to_run_every_minute(workload) -> None:
    stack = template(
        {"Metric": resource("AWS::Lambda::Function", {"MemorySize": 128}, role="backlog-metric")}
    )
    assert usage_of(extracted(stack, workload), "lambda.request") == pytest.approx(43_800)


def test_invoker_runs_once_per_schedule_run_that_targets_it(workload) -> None:
    stack = template(
        {
            "Invoker": resource("AWS::Lambda::Function", {"MemorySize": 128}, role="invoker"),
            "Nightly": resource(
                "AWS::Scheduler::Schedule",
                {"ScheduleExpression": "cron(0 2 * * ? *)", "Target": {"Arn": arn("Invoker")}},
            ),
        }
    )
    assert usage_of(extracted(stack, workload), "lambda.request") == pytest.approx(365 / 12)


def test_a_lambda_nothing_feeds_bills_no_lambda_usage(workload) -> None:
    stack = template({"Fn": resource("AWS::Lambda::Function", FUNCTION)})
    assert not [u for u in extracted(stack, workload) if u.price_key.startswith("lambda.")]


@pytest.mark.parametrize("memory_mib", [128, 10_240])
def test_the_workloads_memory_sizes_the_task_gb_seconds(workload, memory_mib: int) -> None:
    # GIVEN the workload sizes generate-report differently from the template's 1024 MiB
    sized = replace(
        workload,
        tasks=tuple(
            replace(t, memory_mib=memory_mib) if t.name == "generate-report" else t
            for t in workload.tasks
        ),
    )
    report = sized.task("generate-report")
    usages = extracted(_task_lambda_stack(), sized)
    # THEN the GB-seconds follow the workload's memory, not the template's
    assert usage_of(usages, "lambda.gb_second.arm64") == pytest.approx(
        report.volume_per_month * report.duration_seconds * memory_mib / 1024
    )


def test_the_waker_is_priced_at_one_request_per_message_its_service_consumes(
    shipped_comparison, workload
) -> None:
    """Every enqueue path nudges the waker at most once per message (the producer less
    often: once per process every 10 s), so the model prices that upper bound."""
    (worker_service,) = (t for t in shipped_comparison.topologies if t.label == "worker-service")
    (waker,) = worker_service.model.functions_with_role("waker")
    requests = [
        part
        for item in worker_service.cost.items
        if item.price_key == "lambda.request"
        for part in item.parts
        if part.resource == waker.logical_id
    ]
    (usage,) = requests
    assert usage.quantity == pytest.approx(workload.volume_per_month)
    for other in shipped_comparison.topologies:
        if other.label != "worker-service":
            assert not other.model.functions_with_role("waker")
