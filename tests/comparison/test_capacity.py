"""Capacity: where each task saturates, and that an option that cannot keep up has no cost."""

from __future__ import annotations

import pytest

from comparison.build import Report
from comparison.cost.estimate import compare
from comparison.decide.sweep import sweep
from comparison.inputs.scenario import Scenario

SECONDS_PER_MONTH = 730 * 3600


def test_lambda_generate_report_saturates_at_its_concurrency_cap(
    real_models, workload, london, assumptions
) -> None:
    result = compare(
        [real_models["lambdas"]],
        Scenario(workload=workload, prices=london, assumptions=assumptions, free_tier=False),
    )
    (lambdas,) = result.topologies
    assert lambdas.latency is not None
    report = next(s for s in lambdas.latency.saturations if s.task == "generate-report")
    # MaximumConcurrency 2 x 2,628,000 s a month / 300 s a report = 17,520 reports a month
    assert report.slots == 2
    assert report.saturates_at == pytest.approx(2 * SECONDS_PER_MONTH / 300)


def test_an_option_that_cannot_keep_up_has_no_cost_and_is_never_cheapest(
    real_models, workload, london, assumptions
) -> None:
    # generate-report is 900 / 21,500 of the mix: at 20 x the workload it needs
    # 18,000 x 300 s / 2,628,000 s = 2.05 of its 2 Lambda slots
    heavy = workload.scaled(20)
    result = compare(
        list(real_models.values()),
        Scenario(workload=heavy, prices=london, assumptions=assumptions, free_tier=False),
    )
    lambdas = next(t for t in result.topologies if t.label == "lambdas")
    assert not lambdas.keeps_up
    assert lambdas.monthly_total is None
    assert "CANNOT KEEP UP" in lambdas.status
    assert result.cheapest != "lambdas"
    from comparison.render.json_report import to_data
    from comparison.render.text import render_text

    data = next(t for t in to_data(Report.of(result))["topologies"] if t["label"] == "lambdas")
    assert data["cost"] is None and data["monthly_total"] is None
    assert "lambdas: no cost (complete; CANNOT KEEP UP" in render_text(Report.of(result))


def test_sweep_never_names_an_option_that_cannot_keep_up(
    real_models, workload, london, assumptions
) -> None:
    result = sweep(
        list(real_models.values()),
        Scenario(workload=workload, prices=london, assumptions=assumptions),
        volumes=(1e4, 1e6, 1e7),
    )
    for point in result.points:
        assert not set(point.overloaded) & set(point.totals)
        assert point.chosen is None or point.chosen not in point.overloaded
    limits = {c.label: c for c in result.capacity_limits}
    # 17,520 generate-report runs a month / (900 / 21,500 of the mix) = 418,533 tasks a month
    assert limits["lambdas"].volume_per_month == pytest.approx(17_520 * 21_500 / 900)
    assert limits["lambdas"].task == "generate-report"
    for crossing in result.cross_overs:  # cost cross-overs only between options that keep up
        assert crossing.from_label not in limits or (
            crossing.volume_per_month < limits[crossing.from_label].volume_per_month
        )


def test_the_accounts_ses_rate_caps_bulk_email_in_every_topology(
    real_models, workload, london, assumptions
) -> None:  # type: ignore[no-untyped-def]
    """ "Service quotas in Amazon SES": the maximum send rate is per account and region,
    so it limits every topology alike. 100,000 runs of 500 recipients a month is 19 a
    second, over an account sending 14 a second."""
    from dataclasses import replace

    busy = replace(
        workload,
        tasks=tuple(
            replace(t, volume_per_month=100_000.0) if t.name == "send-bulk-email" else t
            for t in workload.tasks
        ),
    )
    assert assumptions.ses_send_rate_per_second == 14.0
    scenario = Scenario(workload=busy, prices=london, assumptions=assumptions)
    result = compare(list(real_models.values()), scenario)
    for topology in result.topologies:
        assert not topology.keeps_up, topology.label
        assert "send-bulk-email saturates the account's SES send rate (14/s)" in topology.status
    # AND a faster account keeps up
    roomy = replace(assumptions, ses_send_rate_per_second=50.0)
    lambdas = compare([real_models["lambdas"]], replace(scenario, assumptions=roomy))
    latency = lambdas.topologies[0].latency
    assert latency is not None
    email = [s for s in latency.saturations if s.task == "send-bulk-email"]
    assert len(email) == 2 and all(s.keeps_up for s in email)  # its function and the rate
