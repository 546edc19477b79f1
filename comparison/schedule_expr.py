"""Runs per month of an EventBridge Scheduler (or Events rule) schedule expression."""

from __future__ import annotations

import calendar
import functools
import re

from comparison.errors import ComparisonError

HOURS_PER_MONTH = 730.0
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\(([^()]+)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86_400}
_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
# Scheduler numbers days of the week 1 (SUN) .. 7 (SAT).
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
# A non-leap reference year: the count is averaged over its 12 months.
_REFERENCE_YEAR = 2025


class ScheduleExpressionError(ComparisonError, ValueError):
    """The expression is not a cron(), rate() or at() expression this module can count."""


@functools.lru_cache(maxsize=512)
def runs_per_month(expression: str) -> float:
    """Average runs per month: rate() exactly, cron() over a reference year, at() as 0."""
    text = expression.strip()
    if text.startswith("at("):
        return 0.0  # a one-off run costs nothing per month
    rate = _RATE.match(text)
    if rate:
        return SECONDS_PER_MONTH / (int(rate.group(1)) * _UNIT_SECONDS[rate.group(2).rstrip("s")])
    cron = _CRON.match(text)
    if not cron:
        raise ScheduleExpressionError(f"cannot count runs of '{expression}'")
    return _cron_runs_per_year(cron.group(1).split()) / 12


def interval_seconds(expression: str) -> float | None:
    """The fixed period of a rate() expression, else None."""
    rate = _RATE.match(expression.strip())
    if not rate:
        return None
    return float(int(rate.group(1)) * _UNIT_SECONDS[rate.group(2).rstrip("s")])


def _cron_runs_per_year(fields: list[str]) -> int:
    if len(fields) != 6:
        raise ScheduleExpressionError(f"cron needs 6 fields, got {len(fields)}: {fields}")
    minute, hour, day_of_month, month, day_of_week, _year = fields
    per_day = len(_expand(minute, 0, 59)) * len(_expand(hour, 0, 23))
    months = _expand(month, 1, 12, _MONTHS)
    days = 0
    for month_number in months:
        last = calendar.monthrange(_REFERENCE_YEAR, month_number)[1]
        for day in range(1, last + 1):
            if _day_matches(day, month_number, last, day_of_month, day_of_week):
                days += 1
    return days * per_day


def _day_matches(day: int, month: int, last: int, day_of_month: str, day_of_week: str) -> bool:
    if day_of_month != "?":
        if day_of_month == "L":
            return day == last
        return day in _expand(day_of_month.rstrip("W"), 1, 31)
    weekday = (calendar.weekday(_REFERENCE_YEAR, month, day) + 1) % 7 + 1  # Mon=0 -> 2
    if "#" in day_of_week:
        name, nth = day_of_week.split("#")
        return weekday in _expand(name, 1, 7, _DAYS) and (day - 1) // 7 + 1 == int(nth)
    if day_of_week.endswith("L"):
        return weekday in _expand(day_of_week[:-1], 1, 7, _DAYS) and day + 7 > last
    return weekday in _expand(day_of_week, 1, 7, _DAYS)


def _expand(field: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    values: set[int] = set()
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/")
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            first, second = part.split("-")
            start, end = _value(first, names), _value(second, names)
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        values.update(range(start, end + 1, step))
    return values


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    try:
        return int(text)
    except ValueError as error:
        raise ScheduleExpressionError(f"cannot read cron value '{text}'") from error
