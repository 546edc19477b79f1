"""The README's comparison figures are what the model computes for the shipped workload:
each option sized for it (the verdict) and the settings shipped (the reference)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from comparison.build import Report, build_report
from comparison.cost.estimate import Comparison
from comparison.inputs.assumptions import Assumptions
from comparison.inputs.prices import PriceTable
from comparison.inputs.scenario import Scenario
from comparison.inputs.templates import StackTemplate
from comparison.inputs.workload import Workload
from comparison.model.sizing import describe_sizing
from comparison.model.topology import TopologyModel, topology_models
from comparison.simulate.latency import run_consumers
from tests.comparison.helpers import without_waker

README = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text().split())


@pytest.fixture(scope="module")
def sized_report(
    real_models: dict[str, TopologyModel],
    workload: Workload,
    london: PriceTable,
    assumptions: Assumptions,
) -> Report:
    scenario = Scenario(workload=workload, prices=london, assumptions=assumptions)
    return build_report(list(real_models.values()), scenario)


def _quoted(after: str) -> dict[str, str]:
    """The "<option> $<total>" pairs from ``after`` to the next parenthesis."""
    start = README.index(after) + len(after)
    return dict(
        re.findall(r"([a-z-]+) \$([0-9,]+\.[0-9]{2})", README[start : README.index(" (", start)])
    )


def _totals(comparison: Comparison) -> dict[str, str]:
    return {
        t.label: f"{t.monthly_total:,.2f}"
        for t in comparison.topologies
        if t.monthly_total is not None
    }


def test_readme_quotes_the_sized_totals_and_the_decision(sized_report: Report) -> None:
    assert _quoted("each option sized for it costs, over the baseline:") == _totals(
        sized_report.comparison
    )
    chosen = sized_report.decision.chosen
    assert chosen is not None
    assert f"The recommendation is {chosen}" in README
    margin = sized_report.decision.margin
    assert margin is not None
    said = README[README.index(f"The recommendation is {chosen}") :][:300]
    assert ("cost does not decide" in said) == (not margin.decides)
    assert f"lead of ${margin.lead:,.2f} a month" in said


def test_readme_quotes_the_chosen_sizing(sized_report: Report) -> None:
    chosen = sized_report.decision.chosen
    option = sized_report.sized(chosen or "")
    assert option is not None and option.sizing is not None
    assert describe_sizing(option.sizing) in README


def test_readme_quotes_the_settings_shipped_as_the_reference(
    sized_report: Report, shipped_comparison: Comparison
) -> None:
    assert sized_report.reference is not None
    assert _totals(sized_report.reference) == _totals(shipped_comparison)
    assert _quoted("As shipped (the reference column), a month costs:") == _totals(
        shipped_comparison
    )


def test_readme_quotes_worker_services_wait_after_idle_with_and_without_the_waker(
    real_templates: dict[str, StackTemplate],
    workload: Workload,
    london: PriceTable,
    assumptions: Assumptions,
) -> None:
    from comparison.units import seconds

    template = real_templates["worker-service"]
    alarm_only = without_waker(template)
    scenario = Scenario(workload=workload, prices=london, assumptions=assumptions)

    def after_idle(stack: StackTemplate) -> str:
        (model,) = topology_models([stack], workload, assumptions)
        _, summary = run_consumers(model, scenario)
        assert summary is not None
        return seconds(summary.worst_after_idle_seconds)

    quoted = "the comparison's worst wait after idle for worker-service is"
    assert f"{quoted} {after_idle(template)} (nudge" in README
    assert f"against {after_idle(alarm_only)} by the alarm alone" in README
