"""Runs per month of Scheduler expressions."""

from __future__ import annotations

import pytest

from comparison.model.schedule_expr import ScheduleExpressionError, interval_seconds, runs_per_month


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(1 minute)", 43_800),
        ("rate(5 minutes)", 8_760),
        ("rate(1 hour)", 730),
        ("cron(0 2 * * ? *)", 365 / 12),
        ("cron(0 8 ? * MON *)", 52 / 12),  # 2025 has 52 Mondays
        ("cron(0/15 9-17 ? * MON-FRI *)", 4 * 9 * 261 / 12),
        ("cron(0 9 1 * ? *)", 1),
        ("cron(0 9 L * ? *)", 1),
        ("cron(0 9 ? * MON#1 *)", 1),
        ("at(2026-01-01T00:00:00)", 0),
    ],
)
def test_runs_per_month(expression: str, expected: float) -> None:
    assert runs_per_month(expression) == pytest.approx(expected)


def test_rate_has_an_interval_and_cron_has_none() -> None:
    assert interval_seconds("rate(2 minutes)") == 120
    assert interval_seconds("cron(0 2 * * ? *)") is None


def test_unreadable_expression_is_refused() -> None:
    with pytest.raises(ScheduleExpressionError, match="cannot count runs of 'every day'"):
        runs_per_month("every day")
