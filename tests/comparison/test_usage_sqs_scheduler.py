"""SQS requests (64 KB chunks, idle long polls) and Scheduler invocations."""

from __future__ import annotations

import pytest

from comparison.inputs.assumptions import DAYS_PER_MONTH
from tests.comparison.helpers import (
    arn,
    day_run,
    event_source,
    extracted,
    ref,
    resource,
    template,
    usage_of,
)


def _lambda_stack():  # type: ignore[no-untyped-def]
    return template(
        {
            "Dlq": resource("AWS::SQS::Queue"),
            "Queue": resource(
                "AWS::SQS::Queue",
                {"RedrivePolicy": {"deadLetterTargetArn": arn("Dlq"), "maxReceiveCount": 3}},
            ),
            "Fn": resource(
                "AWS::Lambda::Function", {"MemorySize": 256}, role="task", task="virus-scan-result"
            ),
            "Esm": event_source("Fn", "Queue"),
        }
    )


def test_each_message_is_a_send_a_receive_and_a_delete_plus_idle_event_source_pollers(
    workload,
) -> None:
    scans = workload.task("virus-scan-result")
    usages = extracted(_lambda_stack(), workload)
    idle_polls = 5 * 3 * 60 * 24 * DAYS_PER_MONTH  # 5 pollers x 3 receives a minute
    assert usage_of(usages, "sqs.request") == pytest.approx(3 * scans.volume_per_month + idle_polls)
    assert {u.resource for u in usages if u.price_key == "sqs.request"} == {
        "Queue"
    }  # never the DLQ


def test_large_payloads_bill_sends_and_receives_per_64_kb_chunk(workload) -> None:
    from dataclasses import replace

    scans = replace(workload.task("virus-scan-result"), payload_kib=130)  # 3 chunks
    heavy = replace(workload, tasks=(scans,))
    usages = extracted(_lambda_stack(), heavy)
    idle_polls = 5 * 3 * 60 * 24 * DAYS_PER_MONTH
    assert usage_of(usages, "sqs.request") == pytest.approx(
        (2 * 3 + 1) * scans.volume_per_month + idle_polls
    )


def test_one_receiving_loop_per_task_long_polls_three_times_a_minute(workload) -> None:
    stack = template(
        {
            "Queue": resource("AWS::SQS::Queue"),
            "Definition": resource(
                "AWS::ECS::TaskDefinition",
                {"ContainerDefinitions": [{"Environment": [{"Value": ref("Queue")}]}]},
            ),
            "Worker": resource(
                "AWS::ECS::Service",
                {"TaskDefinition": ref("Definition")},
                role="worker",
                pollerThreads=4,
            ),
        }
    )
    idle = workload.scaled(0)
    usages = extracted(
        stack, idle, runs={"Worker": day_run(unit_seconds=3600)}
    )  # 1 task-hour a day
    # The runtime's consumer runs one receive loop per task for its 4 threads: 60 minutes
    # x 3 receives a day, not 4 x that.
    assert usage_of(usages, "sqs.request") == pytest.approx(DAYS_PER_MONTH * 60 * 3)


def test_schedules_bill_one_invocation_per_run_and_disabled_ones_nothing(workload) -> None:
    stack = template(
        {
            "Daily": resource(
                "AWS::Scheduler::Schedule", {"ScheduleExpression": "cron(0 2 * * ? *)"}
            ),
            "Minutely": resource(
                "AWS::Scheduler::Schedule", {"ScheduleExpression": "rate(1 minute)"}
            ),
            "Off": resource(
                "AWS::Scheduler::Schedule",
                {"ScheduleExpression": "rate(1 minute)", "State": "DISABLED"},
            ),
        }
    )
    assert usage_of(extracted(stack, workload), "scheduler.invocation") == pytest.approx(
        365 / 12 + 43_800
    )
