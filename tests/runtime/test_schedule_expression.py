"""One schedule-expression parser: the catalogue validates with it, the cost model counts."""

from __future__ import annotations

import pytest

import comparison.model.schedule_expr as comparison_schedules
from runtime.catalogue import CATALOGUE, ScheduleTrigger, TaskType
from runtime.contract import schedule_expression


def test_every_catalogue_schedule_is_counted_by_the_same_parser() -> None:
    for task in CATALOGUE.values():
        for schedule in task.schedules:
            assert comparison_schedules.runs_per_month(schedule.expression) == (
                schedule_expression.runs_per_month(schedule.expression)
            )
    # daily at 02:00 and weekly on Monday, over the 2025 reference year
    assert schedule_expression.runs_per_month("cron(0 2 * * ? *)") == pytest.approx(365 / 12)
    assert schedule_expression.runs_per_month("cron(0 8 ? * MON *)") == pytest.approx(52 / 12)
    assert schedule_expression.runs_per_month("rate(5 minutes)") == pytest.approx(730 * 12)


@pytest.mark.parametrize(
    "expression", ["cron(0 2 * * * *)", "rate(1 minutes)", "every day", "cron(0 2 * *)"]
)
def test_what_the_catalogue_refuses_the_cost_model_cannot_count(expression: str) -> None:
    problems = schedule_expression.violations(expression)
    assert problems
    task = TaskType(
        name="probe",
        description="probe",
        triggers=(ScheduleTrigger(expression=expression, time_zone="UTC"),),
        expected_duration_seconds=1,
        max_duration_seconds=1,
        memory_mib=128,
        handler="tests.probe:handle",
    )
    reported = " | ".join(task.violations())
    assert all(problem in reported for problem in problems), reported
    with pytest.raises(comparison_schedules.ScheduleExpressionError):
        comparison_schedules.runs_per_month(expression)
