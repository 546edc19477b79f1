"""EventBridge Scheduler schedule expressions: one parser for the catalogue and the cost model.

``rate(N unit)``, ``cron(min hour day-of-month month day-of-week year)`` and
``at(yyyy-mm-ddThh:mm:ss)``, as "Schedule types on EventBridge Scheduler" defines them.
The catalogue validates its schedules with :func:`violations`; the comparison counts runs
with :func:`runs_per_month`. Pure and stdlib-only: it ships in the Lambda zip.
"""

from __future__ import annotations

import calendar
import functools
import re
from dataclasses import dataclass

__all__ = [
    "HOURS_PER_MONTH",
    "ScheduleExpression",
    "ScheduleExpressionError",
    "interval_seconds",
    "parse",
    "runs_per_month",
    "violations",
]

HOURS_PER_MONTH = 730.0
_SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
_RATE = re.compile(r"^rate\((?P<value>\d+) (?P<unit>minutes?|hours?|days?)\)$")
_AT = re.compile(r"^at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)$")
_CRON = re.compile(r"^cron\((?P<fields>[^()]+)\)$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?,/#L\-]+$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86_400}
_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
# Scheduler numbers days of the week 1 (SUN) .. 7 (SAT).
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
# A non-leap reference year: cron runs are averaged over its 12 months.
_REFERENCE_YEAR = 2025


class ScheduleExpressionError(ValueError):
    """The expression is not a rate(), cron() or at() expression."""


@dataclass(frozen=True)
class ScheduleExpression:
    kind: str  # "rate", "cron" or "at"
    text: str
    rate_seconds: int | None = None
    cron_fields: tuple[str, ...] = ()


def violations(expression: str) -> list[str]:
    """Every problem with ``expression``, in words that name the fix; [] when valid."""
    found: list[str] = []
    text = expression.strip()
    if text != expression:
        found.append(f"schedule '{expression}' has surrounding whitespace")
    rate = _RATE.match(text)
    cron = _CRON.match(text)
    if rate:
        value = int(rate.group("value"))
        singular = rate.group("unit").rstrip("s")
        if value < 1:
            found.append(f"schedule '{text}': a rate must be at least 1")
        elif (value == 1) != (rate.group("unit") == singular):
            found.append(
                f"schedule '{text}': use the singular unit for 1 and the plural "
                f"otherwise, e.g. rate(1 {singular}) or rate(5 {singular}s)"
            )
    elif cron:
        found.extend(_cron_violations(text, cron.group("fields").split()))
    elif not _AT.match(text):
        found.append(
            f"schedule '{text}' is not a Scheduler expression; use "
            "cron(min hour day-of-month month day-of-week year), rate(N unit) or "
            "at(yyyy-mm-ddThh:mm:ss)"
        )
    return found


def parse(expression: str) -> ScheduleExpression:
    """The parsed expression; :class:`ScheduleExpressionError` lists what is wrong."""
    problems = violations(expression)
    if problems:
        raise ScheduleExpressionError("; ".join(problems))
    text = expression.strip()
    rate = _RATE.match(text)
    if rate:
        seconds = int(rate.group("value")) * _UNIT_SECONDS[rate.group("unit").rstrip("s")]
        return ScheduleExpression("rate", text, rate_seconds=seconds)
    cron = _CRON.match(text)
    if cron:
        return ScheduleExpression("cron", text, cron_fields=tuple(cron.group("fields").split()))
    return ScheduleExpression("at", text)


@functools.lru_cache(maxsize=512)
def runs_per_month(expression: str) -> float:
    """Average runs per month: rate() exactly, cron() over a reference year, at() as 0."""
    parsed = parse(expression)
    if parsed.kind == "at":
        return 0.0  # a one-off run costs nothing per month
    if parsed.rate_seconds is not None:
        return _SECONDS_PER_MONTH / parsed.rate_seconds
    return _cron_runs_per_year(list(parsed.cron_fields)) / 12


def interval_seconds(expression: str) -> float | None:
    """The fixed period of a rate() expression, else None."""
    rate = _RATE.match(expression.strip())
    if not rate:
        return None
    return float(int(rate.group("value")) * _UNIT_SECONDS[rate.group("unit").rstrip("s")])


def _cron_violations(expression: str, fields: list[str]) -> list[str]:
    if len(fields) != 6:
        return [
            f"schedule '{expression}': a cron expression has 6 fields "
            f"(min hour day-of-month month day-of-week year), got {len(fields)}"
        ]
    day_of_month, day_of_week = fields[2], fields[4]
    # Scheduler (like EventBridge) requires '?' in exactly one of the two day fields.
    if (day_of_month == "?") == (day_of_week == "?"):
        return [
            f"schedule '{expression}': put '?' in exactly one of day-of-month and "
            "day-of-week, e.g. cron(0 2 * * ? *)"
        ]
    bad = [value for value in fields if not _CRON_FIELD.match(value)]
    if bad:
        return [f"schedule '{expression}': invalid cron field(s) {bad}"]
    return []


def _cron_runs_per_year(fields: list[str]) -> int:
    minute, hour, day_of_month, month, day_of_week, _year = fields
    per_day = len(_expand(minute, 0, 59)) * len(_expand(hour, 0, 23))
    days = 0
    for month_number in _expand(month, 1, 12, _MONTHS):
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
