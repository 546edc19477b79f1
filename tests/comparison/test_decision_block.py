"""The decision block that heads the table and Markdown reports (and the HTML one)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from comparison.build import Report
from comparison.cost.estimate import CapacityLimit, Comparison, CrossOver, Sweep, SweepPoint
from comparison.decide.decision import decide
from comparison.decide.sweep import chosen_bands
from comparison.render.tables import band_text, decision_table, money
from comparison.render.text import render_markdown, render_text


@pytest.fixture(scope="module")
def comparison(shipped_comparison: Comparison) -> Comparison:
    return shipped_comparison


def test_the_table_report_opens_with_the_decision(comparison: Comparison) -> None:
    text = render_text(Report.of(comparison))
    chosen = decide(comparison).chosen
    assert chosen is not None
    first, _, rest = text.partition("\n\n")
    assert first.startswith(f"Decision for 21,500 tasks/month: {chosen}, the cheapest")
    assert rest.startswith("Decision: the options ranked")
    assert rest.index("Decision: the options ranked") < rest.index("Monthly cost over the baseline")


def test_the_markdown_report_opens_with_the_same_block(comparison: Comparison) -> None:
    markdown = render_markdown(Report.of(comparison))
    lines = markdown.splitlines()
    assert lines[2].startswith("**Decision for 21,500 tasks/month:")
    assert (
        lines[4]
        == "### Decision: the options ranked (cheapest that keeps up and meets the targets first)"
    )
    table = decision_table(Report.of(comparison))
    assert "| " + " | ".join(table.rows[0]) + " |" in markdown


def test_the_ranked_rows_carry_delta_fixed_usage_and_driver(comparison: Comparison) -> None:
    decision = decide(comparison)
    rows = decision_table(Report.of(comparison)).rows
    assert rows[0][1] == f"{decision.chosen} (chosen)"
    chosen = next(t for t in comparison.topologies if t.label == decision.chosen)
    runner_up = decision.runner_up
    assert runner_up is not None
    worker = next(t for t in comparison.topologies if t.label == runner_up.label)
    row = next(r for r in rows if r[1] == runner_up.label)
    assert row[2] == "eligible"
    assert row[3] == money(worker.cost.total)
    assert row[4] == f"+{money(worker.cost.total - chosen.cost.total)}"
    assert row[5] == money(worker.idle.total)
    assert row[6] == money(worker.cost.total - worker.idle.total)
    services = worker.cost.by_service()
    top = max(services, key=services.__getitem__)
    assert row[7] == f"{top} {services[top] / worker.cost.total:.0%}"
    assert row[8] == "n/a (no sweep)"
    lambdas = next(r for r in rows if r[1] == "lambdas")
    assert lambdas[2].startswith("misses the latency target: generate-report")


def _point(volume: float, **totals: float) -> SweepPoint:
    cheapest = min(totals, key=totals.__getitem__) if totals else None
    return SweepPoint(volume_per_month=volume, totals=totals, chosen=cheapest)


def test_bands_run_between_cross_overs_and_capacity_limits(comparison: Comparison) -> None:
    sweep = Sweep(
        points=(
            _point(100, a=1.0, b=5.0),
            _point(1_000, a=2.0, b=5.0),
            _point(10_000, a=9.0, b=6.0),
            _point(100_000, b=7.0),
            _point(1_000_000),
        ),
        cross_overs=(CrossOver(volume_per_month=3_200, from_label="a", to_label="b"),),
        capacity_limits=(
            CapacityLimit(label="a", volume_per_month=50_000, task="t"),
            CapacityLimit(label="b", volume_per_month=420_000, task="t"),
        ),
    )
    swept = Report.of(replace(comparison, sweep=sweep))
    assert chosen_bands(sweep) == {"a": [(100, 3_200)], "b": [(3_200, 420_000)]}
    assert band_text(swept, "a") == "<=3.2k"
    assert band_text(swept, "b") == "3.2k-420k"
    assert band_text(swept, "c") == "never (in 100..1M)"


def test_a_band_ends_where_the_search_found_the_flip() -> None:
    """The sweep samples half-decades; where the search for what would change the
    decision found the flip between two samples, the band ends there, so the table's
    band and its what-would-change row name one volume."""
    sweep = Sweep(
        points=(_point(10_000, a=1.0, b=5.0), _point(100_000, b=7.0)),
        cross_overs=(),
    )
    assert chosen_bands(sweep) == {
        "a": [(10_000, 31_622.776601683792)],
        "b": [(31_622.776601683792, 100_000)],
    }
    assert chosen_bands(sweep, [(68_000, "b")]) == {
        "a": [(10_000, 68_000)],
        "b": [(68_000, 100_000)],
    }
    assert chosen_bands(sweep, [(68_000, "c")])["a"] == [(10_000, 31_622.776601683792)]
