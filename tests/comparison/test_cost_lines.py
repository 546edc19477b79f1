"""The cost lines the first model missed, each checked by hand."""

from __future__ import annotations

from dataclasses import replace

import pytest

from comparison.cost.costing import price_usage
from comparison.cost.usage import Usage
from tests.comparison.helpers import (
    arn,
    day_run,
    extracted,
    ref,
    resource,
    template,
    usage_of,
)


def test_metric_function_bills_every_metric_it_publishes(workload, london) -> None:
    stack = template({"Metric": resource("AWS::Lambda::Function", {}, role="backlog-metric")})
    usages = extracted(stack, workload)
    # BacklogPerTask, WakeUpSignal, VisibleMessages, InFlightMessages, RunningTasks
    assert usage_of(usages, "cloudwatch.metric") == 5
    cost = price_usage(usages, london, free_tier=False)
    metric = next(i for i in cost.items if i.price_key == "cloudwatch.metric")
    assert metric.cost == pytest.approx(5 * 0.30)


def test_container_insights_bills_metrics_for_the_hours_a_worker_runs(workload) -> None:
    cluster = {"ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]}
    specs = {
        "Queue": resource("AWS::SQS::Queue"),
        "Worker": resource("AWS::ECS::Service", {}, role="worker", pollerThreads=1),
    }
    stack = template({"Cluster": resource("AWS::ECS::Cluster", cluster), **specs})
    # GIVEN a worker with a task in 1 step of 4 (2 task-hours a day)
    run = replace(day_run(unit_seconds=2 * 3600), timeline=(0, 1, 0, 0))
    usages = extracted(stack, workload.scaled(0), runs={"Worker": run})
    # THEN 11 metrics x 25% of the hours, and 1,000 B per task-minute of performance logs:
    # 2 h x 60 x 730/24 days x 1,000 B = 3.65 MB
    assert usage_of(usages, "cloudwatch.metric") == pytest.approx(11 * 0.25)
    assert usage_of(usages, "logs.ingestion_gb") == pytest.approx(2 * 60 * 730 / 24 * 1000 / 1e9)
    off = template({"Cluster": resource("AWS::ECS::Cluster", {}), **specs})
    without = extracted(off, workload.scaled(0), runs={"Worker": run})
    assert usage_of(without, "cloudwatch.metric") == 0


def test_invoker_runs_once_per_event_of_the_rules_that_target_it(workload) -> None:
    scan = '{"task": "virus-scan-result", "payload": <aws.events.event.json>}'
    stack = template(
        {
            "Invoker": resource("AWS::Lambda::Function", {"MemorySize": 128}, role="invoker"),
            "Rule": resource(
                "AWS::Events::Rule",
                {
                    "EventPattern": {"source": ["aws.guardduty"]},
                    "Targets": [
                        {"Arn": arn("Invoker"), "InputTransformer": {"InputTemplate": scan}}
                    ],
                },
            ),
            "Nightly": resource(
                "AWS::Scheduler::Schedule",
                {
                    "ScheduleExpression": "cron(0 2 * * ? *)",
                    "Target": {"Arn": arn("Invoker"), "Input": '{"task":"generate-report"}'},
                },
            ),
        }
    )
    # 20,000 scan results a month, and 365 nightly runs a year / 12
    assert usage_of(extracted(stack, workload), "lambda.request") == pytest.approx(
        20_000 + 365 / 12
    )


def test_scheduler_first_14_million_cost_nothing_even_without_the_free_tier(london) -> None:
    few = price_usage([Usage("scheduler.invocation", 34.8, "S", "")], london, free_tier=False)
    assert few.total == 0
    many = price_usage([Usage("scheduler.invocation", 20e6, "S", "")], london, free_tier=False)
    # (20M - 14M) x $1.15 per million = $6.90
    assert many.total == pytest.approx(6 * 1.15)


def test_ecr_pull_check_reads_joined_service_names() -> None:
    from comparison.model.resources import resource_model
    from comparison.model.topology import network_model

    join = {"Fn::Join": ["", ["com.amazonaws.", ref("AWS::Region"), ".ecr.dkr"]]}
    endpoint = {"VpcEndpointType": "Interface", "ServiceName": join}
    only_ecr = template({"Dkr": resource("AWS::EC2::VPCEndpoint", endpoint)})
    records = [resource_model(only_ecr, r, frozenset()) for r in only_ecr.resources.values()]
    assert not network_model(records).pulls_through_endpoints  # layers still come from S3
