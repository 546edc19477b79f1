"""Runs per month of a schedule expression: the runtime's one parser, with this
package's error type so the CLI reports it in one line."""

from __future__ import annotations

from comparison.errors import ComparisonError
from runtime.contract import schedule_expression as _shared
from runtime.contract.schedule_expression import HOURS_PER_MONTH, interval_seconds

__all__ = [
    "HOURS_PER_MONTH",
    "SECONDS_PER_MONTH",
    "ScheduleExpressionError",
    "interval_seconds",
    "runs_per_month",
]

SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600


class ScheduleExpressionError(ComparisonError, ValueError):
    """The expression is not a cron(), rate() or at() expression this module can count."""


def runs_per_month(expression: str) -> float:
    """Average runs per month (see :func:`runtime.contract.schedule_expression.runs_per_month`)."""
    try:
        return _shared.runs_per_month(expression)
    except _shared.ScheduleExpressionError as error:
        raise ScheduleExpressionError(f"cannot count runs of '{expression}': {error}") from error
