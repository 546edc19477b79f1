"""Invariants of the cost model, on the ECS fixture stacks and on the project's real stacks.

Tests on the real stacks skip a stack that is still a placeholder, saying so: remove the
``PLACEHOLDER`` skips as the ECS stacks land.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from comparison.report import estimate_topology, monthly_cost
from comparison.routing import ConsumerKind, build_routing

IDLE_SERVICES_OF_WORKER = {
    "Lambda",
    "CloudWatch",
    "CloudWatch Logs",
    "NAT gateway",
    "PrivateLink",
    "Public IPv4",
}


def _lambda_total(stack, workload, table, assumptions) -> float:  # type: ignore[no-untyped-def]
    cost, _, _ = monthly_cost(stack, workload, table, assumptions, free_tier=False, probe=False)
    return sum(item.cost for item in cost.items if item.service == "Lambda")


def _require_consumer(stack, workload, kind: ConsumerKind) -> None:  # type: ignore[no-untyped-def]
    routing = build_routing(stack, tuple(t.name for t in workload.tasks))
    if not any(c.kind is kind for c in routing.consumers):
        pytest.skip(f"PLACEHOLDER: {stack.stack_id} has no {kind.value} consumer yet")


def test_lambda_cost_is_linear_in_volume_without_init(
    real_templates, workload, london, assumptions
) -> None:
    stack = real_templates["lambdas"]
    no_init = replace(assumptions, lambda_cold_start_seconds=0.0)
    costs = [_lambda_total(stack, workload.scaled(k), london, no_init) for k in (0, 1, 2, 10)]
    assert costs[0] == 0
    assert costs[2] == pytest.approx(2 * costs[1])
    assert costs[3] == pytest.approx(10 * costs[1])


def _idle(stack, workload, table, assumptions):  # type: ignore[no-untyped-def]
    return estimate_topology(stack, workload, table, assumptions, free_tier=False).idle


def _check_worker_idle(stack, workload, table, assumptions) -> None:  # type: ignore[no-untyped-def]
    idle = _idle(stack, workload, table, assumptions)
    by_service = idle.by_service()
    assert by_service.get("Fargate", 0) == 0  # scaled to zero
    accounted = sum(
        cost for service, cost in by_service.items() if service in IDLE_SERVICES_OF_WORKER
    )
    # Only queue alarms' SQS polls and schedule runs remain outside: cents at most.
    assert idle.total - accounted < 0.05
    assert by_service["Lambda"] > 0 and by_service["CloudWatch"] > 0


def _check_endpoint_idle(stack, workload, table, assumptions) -> None:  # type: ignore[no-untyped-def]
    idle = _idle(stack, workload, table, assumptions)
    one_alb = table["elb.alb_hour"].unit_price * 730
    service = next(r for r in stack.of_type("AWS::ECS::Service") if r.role == "endpoint")
    from comparison.scaling import fargate_size

    vcpu, gb, arch = fargate_size(stack, service)
    one_task = 730 * (
        vcpu * table[f"fargate.vcpu_hour.{arch}"].unit_price
        + gb * table[f"fargate.gb_hour.{arch}"].unit_price
    )
    assert idle.total >= one_alb + one_task - 0.01


def test_worker_service_idle_cost_is_the_metric_lambda_metric_alarms_and_network(
    fixture_templates, workload, london, assumptions
) -> None:
    _check_worker_idle(fixture_templates["Fixture-WorkerService"], workload, london, assumptions)


def test_private_endpoints_idle_cost_covers_an_alb_and_a_task_all_month(
    fixture_templates, workload, london, assumptions
) -> None:
    _check_endpoint_idle(
        fixture_templates["Fixture-PrivateEndpoints"], workload, london, assumptions
    )


def test_real_worker_service_idle_cost(real_templates, workload, london, assumptions) -> None:
    stack = real_templates["worker-service"]
    _require_consumer(stack, workload, ConsumerKind.WORKER)
    _check_worker_idle(stack, workload, london, assumptions)


def test_real_private_endpoints_idle_cost(real_templates, workload, london, assumptions) -> None:
    stack = real_templates["private-endpoints"]
    _require_consumer(stack, workload, ConsumerKind.ENDPOINT)
    _check_endpoint_idle(stack, workload, london, assumptions)


def test_every_real_stack_is_reported_and_placeholders_are_marked(
    real_templates, workload, london, assumptions
) -> None:
    assert set(real_templates) == {
        "private-endpoints",
        "worker-service",
        "webapp-poller",
        "lambdas",
    }
    for label, stack in real_templates.items():
        report = estimate_topology(stack, workload, london, assumptions, free_tier=False)
        assert report.complete == (report.latency is not None), label
        assert report.complete or report.status.startswith("PLACEHOLDER"), label
    assert estimate_topology(
        real_templates["lambdas"], workload, london, assumptions, free_tier=False
    ).complete


def test_adding_a_resource_changes_the_estimate(
    real_templates, workload, london, assumptions
) -> None:
    from comparison.templates import Resource, StackTemplate

    stack = real_templates["lambdas"]
    alb = Resource(
        "ExtraAlb", "AWS::ElasticLoadBalancingV2::LoadBalancer", {"Type": "application"}, {}
    )
    bigger = StackTemplate(stack.stack_id, {**stack.resources, "ExtraAlb": alb})
    before, _, _ = monthly_cost(stack, workload, london, assumptions, free_tier=False, probe=False)
    after, _, _ = monthly_cost(bigger, workload, london, assumptions, free_tier=False, probe=False)
    assert after.total - before.total == pytest.approx(730 * london["elb.alb_hour"].unit_price)
