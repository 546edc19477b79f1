"""The reporting period of 'generate-report': whole calendar days in Europe/London.

A payload names the period either relatively, ``{"period": "previous-day"}`` (the
schedule's form, resolved against the envelope's ``created_at`` so a late or
repeated delivery reports the same day), or explicitly, ``{"from": "YYYY-MM-DD",
"to": "YYYY-MM-DD"}`` with both days included.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from runtime.errors import ConfigurationError, PayloadValidationError

__all__ = [
    "MAX_PERIOD_DAYS",
    "PREVIOUS_DAY",
    "REPORT_TIME_ZONE",
    "Period",
    "check_period_payload",
    "period_from",
]

REPORT_TIME_ZONE = "Europe/London"
PREVIOUS_DAY = "previous-day"
# A bound on on-demand requests; the report scans the table once whatever the span.
MAX_PERIOD_DAYS = 366
_TASK = "generate-report"


@dataclass(frozen=True)
class Period:
    """Calendar days ``first``..``last`` (inclusive), local to Europe/London."""

    first: date
    last: date

    @property
    def label(self) -> str:
        return f"{self.first.isoformat()}_{self.last.isoformat()}"

    def utc_bounds(self) -> tuple[datetime, datetime]:
        """[start, end) as aware datetimes: local midnights, so DST days are 23 or 25 h."""
        zone = _zone()
        start = datetime.combine(self.first, time(), tzinfo=zone)
        end = datetime.combine(self.last + timedelta(days=1), time(), tzinfo=zone)
        return start, end


def check_period_payload(payload: Mapping[str, Any]) -> None:
    """Raise PayloadValidationError unless the payload names exactly one valid period."""
    _explicit_period(payload)


def period_from(payload: Mapping[str, Any], *, created_at: str) -> Period:
    """The period a payload names; "previous-day" is the day before ``created_at``."""
    explicit = _explicit_period(payload)
    if explicit is not None:
        return explicit
    day = _local_day(created_at) - timedelta(days=1)
    return Period(day, day)


def _explicit_period(payload: Mapping[str, Any]) -> Period | None:
    """The explicit period, or None for a valid relative one; raises for anything else."""
    has_relative = "period" in payload
    if has_relative == ("from" in payload or "to" in payload):
        raise PayloadValidationError(
            f'{_TASK}: give either "period": "{PREVIOUS_DAY}" or both "from" and "to" '
            f"(YYYY-MM-DD); got keys {sorted(payload)}"
        )
    if has_relative:
        if payload["period"] != PREVIOUS_DAY:
            raise PayloadValidationError(
                f"{_TASK}: period is {payload['period']!r}; the only relative period is "
                f'{PREVIOUS_DAY!r} (use "from"/"to" for others)'
            )
        return None
    first, last = _day(payload, "from"), _day(payload, "to")
    if last < first:
        raise PayloadValidationError(f"{_TASK}: 'to' ({last}) is before 'from' ({first})")
    if (last - first).days >= MAX_PERIOD_DAYS:
        raise PayloadValidationError(
            f"{_TASK}: the period {first}..{last} is longer than {MAX_PERIOD_DAYS} days; "
            "split it into several reports"
        )
    return Period(first, last)


def _day(payload: Mapping[str, Any], key: str) -> date:
    value = payload.get(key)
    try:
        if not isinstance(value, str) or len(value) != len("YYYY-MM-DD"):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise PayloadValidationError(
            f"{_TASK}: {key!r} is {value!r}; expected a date as YYYY-MM-DD"
        ) from None


def _local_day(created_at: str) -> date:
    try:
        moment = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except ValueError:
        raise PayloadValidationError(
            f"{_TASK}: envelope created_at {created_at!r} is not ISO-8601"
        ) from None
    return moment.astimezone(_zone()).date()


def _zone() -> ZoneInfo:
    try:
        return ZoneInfo(REPORT_TIME_ZONE)
    except ZoneInfoNotFoundError as error:
        # Slim images may lack the tz database; the tzdata wheel provides it.
        raise ConfigurationError(
            f"time zone {REPORT_TIME_ZONE} is not available; install the tzdata package"
        ) from error
