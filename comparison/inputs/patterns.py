"""Arrival patterns: how a task's daily volume spreads over the day, minute by minute.

A profile is 1440 weights (one per minute of the day) that sum to 1. Workloads name
a pattern, give 24 hourly weights, or give a burst time; see docs/comparison.md.

A calendar says on which days a task runs: a cycle of days, the first a Monday, each
True or False. ``(True,)`` is every day; ``days = ["mon"]`` is a 7-day cycle; ``every_days
= 3`` is a 3-day cycle that runs on its first day.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

MINUTES_PER_DAY = 24 * 60
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EVERY_DAY: tuple[bool, ...] = (True,)
# The longest cycle a calendar may have, and the longest period simulated to cover the
# cycles of several tasks at once (their least common multiple, capped here).
MAX_CYCLE_DAYS = 28
_TIME = re.compile(r"^(?P<hour>[01]\d|2[0-3]):(?P<minute>[0-5]\d)$")

# Named hourly weights. business-hours: 08:00-18:00 carry 90% of the volume.
NAMED_HOURLY: dict[str, tuple[float, ...]] = {
    "uniform": (1.0,) * 24,
    "business-hours": tuple(9.0 if 8 <= hour < 18 else 10.0 / 14.0 for hour in range(24)),
    "nightly": tuple(1.0 if hour in (1, 2, 3) else 0.0 for hour in range(24)),
}


def parse_time_of_day(value: str) -> int | None:
    """'09:30' -> minute of the day (570); None when the text is not HH:MM."""
    match = _TIME.match(value)
    if match is None:
        return None
    return int(match.group("hour")) * 60 + int(match.group("minute"))


def from_hourly(weights: tuple[float, ...]) -> tuple[float, ...]:
    """Spread 24 hourly weights evenly over their minutes and normalise to 1."""
    total = sum(weights)
    if total <= 0:
        raise ValueError("hourly weights must have a positive sum")
    return tuple(weights[minute // 60] / total / 60 for minute in range(MINUTES_PER_DAY))


def burst(start_minute: int, minutes: int, share: float) -> tuple[float, ...]:
    """``share`` of the day's volume in ``minutes`` from ``start_minute``; the rest uniform."""
    base = (1.0 - share) / MINUTES_PER_DAY
    peak = share / minutes
    window = {(start_minute + offset) % MINUTES_PER_DAY for offset in range(minutes)}
    return tuple(base + (peak if minute in window else 0.0) for minute in range(MINUTES_PER_DAY))


def hourly_shares(profile: tuple[float, ...]) -> tuple[float, ...]:
    """The profile summed per hour (24 values), for the cold-start estimate and charts."""
    return tuple(sum(profile[hour * 60 : hour * 60 + 60]) for hour in range(24))


def weekly(days: Iterable[str]) -> tuple[bool, ...]:
    """A 7-day calendar from weekday names ("mon".."sun"); the cycle starts on a Monday."""
    chosen = set(days)
    return tuple(name in chosen for name in WEEKDAYS)


def every(days: int) -> tuple[bool, ...]:
    """A calendar that runs on the first day of every ``days`` days."""
    return (True,) + (False,) * (days - 1)


def runs_on(calendar: tuple[bool, ...], day: int) -> bool:
    """Whether the task runs on simulated day ``day`` (day 0 is a Monday)."""
    return calendar[day % len(calendar)]


def active_share(calendar: tuple[bool, ...]) -> float:
    """The share of days the task runs on (1 for every day)."""
    return sum(calendar) / len(calendar)


def common_cycle(calendars: Iterable[tuple[bool, ...]]) -> int:
    """The days after which every calendar repeats together, capped at MAX_CYCLE_DAYS."""
    lengths = [len(calendar) for calendar in calendars]
    return min(math.lcm(1, *lengths), max([MAX_CYCLE_DAYS, *lengths]))
