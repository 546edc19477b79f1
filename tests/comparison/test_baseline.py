"""One baseline for all four topologies, and one network choice applied to all of them."""

from __future__ import annotations

import pytest

from comparison.cost.baseline import baseline_usage, reference_model
from comparison.cost.estimate import Comparison, compare, monthly_cost
from comparison.inputs.scenario import Scenario
from comparison.inputs.workload import Network

LABELS = ("lambdas", "private-endpoints", "webapp-poller", "worker-service")


def test_every_stack_with_the_web_app_reads_the_same_baseline(real_models, workload) -> None:
    with_web_app = [m for m in real_models.values() if m.with_role("webapp")]
    assert len(with_web_app) == 3  # the ECS stacks; the lambdas stack has no web app
    readings = [
        sorted((u.price_key, u.quantity) for u in baseline_usage(t, workload)) for t in with_web_app
    ]
    assert readings[0] == readings[1] == readings[2]


def test_baseline_is_the_web_app_tasks_its_network_and_its_alarms(
    shipped_comparison: Comparison,
) -> None:
    result = shipped_comparison
    costs = {item.price_key: item.cost for item in result.baseline.items}
    # [webapp] 2 tasks x 1 vCPU x 730 h x $0.04656 = $67.9776
    assert costs["fargate.vcpu_hour.x86_64"] == pytest.approx(2 * 730 * 0.04656)
    # 2 tasks x 2 GB x 730 h x $0.00511 = $14.9212
    assert costs["fargate.gb_hour.x86_64"] == pytest.approx(2 * 2 * 730 * 0.00511)
    # one NAT gateway 730 h x $0.05 = $36.50 and its Elastic IP 730 h x $0.005 = $3.65
    assert costs["nat.hour"] == pytest.approx(36.50)
    assert costs["ipv4.hour"] == pytest.approx(3.65)
    # the web app's CPU target tracking: its 2 AWS-managed alarms x $0.10
    assert costs["cloudwatch.alarm"] == pytest.approx(0.20)
    assert result.baseline.total == pytest.approx(123.2488)


def test_no_topology_pays_for_the_web_app_network_when_shared(
    real_models, workload, london, assumptions
) -> None:
    for label in LABELS:
        cost, _, _ = monthly_cost(
            real_models[label],
            Scenario(workload=workload, prices=london, assumptions=assumptions, free_tier=False),
            probe=False,
        )
        keys = {item.price_key for item in cost.items}
        assert "nat.hour" not in keys, label
        assert "ipv4.hour" not in keys, label  # the NAT's EIP; tasks have no public IP


@pytest.mark.parametrize(
    ("label", "extra"),
    [
        # its own worker tasks bring a NAT gateway (730 h x $0.05) and its EIP (730 h x $0.005)
        ("worker-service", 36.50 + 3.65),
        ("private-endpoints", 36.50 + 3.65),
        # the poller runs in the web app's own tasks: its network, whatever the choice
        ("webapp-poller", 0.0),
        # Lambda functions outside a VPC need no NAT gateway
        ("lambdas", 0.0),
    ],
)
def test_dedicated_network_adds_exactly_a_nat_gateway_and_its_ip(
    real_models, workload, london, assumptions, label: str, extra: float
) -> None:
    stack = real_models[label]
    shared, _, _ = monthly_cost(
        stack,
        Scenario(workload=workload, prices=london, assumptions=assumptions, free_tier=False),
        probe=False,
    )
    dedicated, _, _ = monthly_cost(
        stack,
        Scenario(
            workload=workload.with_network(Network.DEDICATED),
            prices=london,
            assumptions=assumptions,
            free_tier=False,
        ),
        probe=False,
    )
    assert dedicated.total - shared.total == pytest.approx(extra)


def test_the_report_names_the_network_choice(real_models, workload, london, assumptions) -> None:
    dedicated = workload.with_network(Network.DEDICATED)
    result = compare(
        list(real_models.values()),
        Scenario(workload=dedicated, prices=london, assumptions=assumptions, free_tier=False),
    )
    assert result.network is Network.DEDICATED
    assert reference_model(list(real_models.values())) is not None
