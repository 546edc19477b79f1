"""The property CSV's columns and the rules for each value.

Header names are matched case-insensitively after trimming; the required columns must
be present, the optional ones may be left out, and nothing else is allowed. A row is
checked in full, so its rejection lists every problem at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from runtime.tasks.uploads.model import PROPERTY_TYPES, PropertyRecord, normalise_postcode

__all__ = [
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "HeaderError",
    "Rejected",
    "RowChecker",
    "parse_header",
]

REQUIRED_COLUMNS = ("uprn", "address_line_1", "town", "postcode", "property_type")
OPTIONAL_COLUMNS = ("address_line_2", "address_line_3", "floor_area_sqm", "build_year")
FLOOR_AREA_RANGE = (Decimal(10), Decimal(10_000))
EARLIEST_BUILD_YEAR = 1000
MAX_TEXT_LENGTH = 200
_UPRN = re.compile(r"^[0-9]{1,12}$")
_INTEGER = re.compile(r"^[0-9]{1,4}$")


class HeaderError(ValueError):
    """The first row is not the property CSV header."""


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str


def parse_header(fields: Sequence[str]) -> tuple[str, ...]:
    """The canonical column name at each position; HeaderError lists every problem."""
    columns = tuple(field.strip().lower() for field in fields)
    problems = []
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        problems.append(f"missing required column(s) {missing}")
    unknown = [name for name in columns if name not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        problems.append(f"unknown column(s) {unknown}")
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        problems.append(f"repeated column(s) {repeated}")
    if problems:
        raise HeaderError(
            "wrong header: " + "; ".join(problems) + ". Expected the columns "
            f"{list(REQUIRED_COLUMNS)} and optionally {list(OPTIONAL_COLUMNS)}"
        )
    return columns


class RowChecker:
    """Turns the fields of a data row into a :class:`PropertyRecord` or a rejection."""

    def __init__(self, columns: Sequence[str], *, current_year: int) -> None:
        self._columns = tuple(columns)
        self._rules: Mapping[str, Callable[[str], tuple[Any, str | None]]] = {
            "uprn": _uprn,
            "address_line_1": _required_text,
            "address_line_2": _optional_text,
            "address_line_3": _optional_text,
            "town": _required_text,
            "postcode": _postcode,
            "property_type": _property_type,
            "floor_area_sqm": _floor_area,
            "build_year": lambda raw: _build_year(raw, current_year),
        }

    def check(self, fields: Sequence[str]) -> PropertyRecord | Rejected:
        if len(fields) != len(self._columns):
            return Rejected(f"expected {len(self._columns)} fields, got {len(fields)}")
        values: dict[str, Any] = {}
        problems: list[str] = []
        for name, raw in zip(self._columns, fields, strict=True):
            value, problem = self._rules[name](raw.strip())
            if problem:
                problems.append(f"{name}: {problem}")
            values[name] = value
        if problems:
            return Rejected("; ".join(problems))
        lines = [values.get(f"address_line_{n}") for n in (1, 2, 3)]
        return PropertyRecord(
            uprn=values["uprn"],
            address_lines=tuple(line for line in lines if line),
            town=values["town"],
            postcode=values["postcode"],
            property_type=values["property_type"],
            floor_area_sqm=values.get("floor_area_sqm"),
            build_year=values.get("build_year"),
        )


def _uprn(raw: str) -> tuple[str | None, str | None]:
    if not _UPRN.match(raw) or int(raw) == 0:
        return None, f"must be 1 to 12 digits and not 0, got {raw!r}"
    return str(int(raw)), None  # "00123" and "123" are the same property


def _required_text(raw: str) -> tuple[str | None, str | None]:
    if not raw:
        return None, "is required"
    return _optional_text(raw)


def _optional_text(raw: str) -> tuple[str | None, str | None]:
    if len(raw) > MAX_TEXT_LENGTH:
        return None, f"is longer than {MAX_TEXT_LENGTH} characters"
    return raw or None, None


def _postcode(raw: str) -> tuple[str | None, str | None]:
    postcode = normalise_postcode(raw)
    if postcode is None:
        return None, f"{raw!r} is not a UK postcode"
    return postcode, None


def _property_type(raw: str) -> tuple[str | None, str | None]:
    value = raw.lower()
    if value not in PROPERTY_TYPES:
        return None, f"{raw!r} is not one of {list(PROPERTY_TYPES)}"
    return value, None


def _floor_area(raw: str) -> tuple[Decimal | None, str | None]:
    if not raw:
        return None, None
    low, high = FLOOR_AREA_RANGE
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None, f"{raw!r} is not a number"
    if not value.is_finite() or not low <= value <= high:
        return None, f"{raw} is outside {low}..{high} square metres"
    return value, None


def _build_year(raw: str, current_year: int) -> tuple[int | None, str | None]:
    if not raw:
        return None, None
    if not _INTEGER.match(raw) or not EARLIEST_BUILD_YEAR <= int(raw) <= current_year:
        return None, f"{raw!r} is not a year between {EARLIEST_BUILD_YEAR} and {current_year}"
    return int(raw), None
