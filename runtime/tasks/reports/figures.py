"""The figures of a property report, gathered in one streamed pass over the task table.

The table has one partition per item (``property#<UPRN>``, ``upload#<key>``), so there
is no key that lists "all properties" for a Query; a filtered Scan reads each page
once and keeps only counters, so memory stays flat however large the table grows.
(If the table outgrows a nightly Scan, add a GSI on an item-kind attribute and Query
it; the aggregation below is unchanged.)
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, Unpack

from runtime.contract.storage import PROPERTY_PK_PREFIX, UPLOAD_PK_PREFIX
from runtime.tasks.reports.period import Period

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import ScanInputTableScanTypeDef, ScanOutputTableTypeDef

__all__ = ["ReportFigures", "gather_figures"]

UNKNOWN = "unknown"
# Only what the report needs; "status" is a reserved word, hence the placeholder.
_PROJECTION = "pk, property_type, postcode_area, updated_at, #status, processed_at, " + (
    "rows_loaded, rows_rejected"
)


@dataclass
class ReportFigures:
    """Counters only: nothing here grows with the number of items scanned."""

    period: Period
    properties_by_type: Counter[str] = field(default_factory=Counter)
    properties_by_area: Counter[str] = field(default_factory=Counter)
    properties_updated_in_period: int = 0
    uploads_by_status: Counter[str] = field(default_factory=Counter)
    rows_loaded: int = 0
    rows_rejected: int = 0

    def add(self, item: Mapping[str, Any], start: datetime, end: datetime) -> None:
        pk = str(item.get("pk", ""))
        if pk.startswith(PROPERTY_PK_PREFIX):
            self.properties_by_type[str(item.get("property_type") or UNKNOWN)] += 1
            self.properties_by_area[str(item.get("postcode_area") or UNKNOWN)] += 1
            if _within(item.get("updated_at"), start, end):
                self.properties_updated_in_period += 1
        elif pk.startswith(UPLOAD_PK_PREFIX) and _within(item.get("processed_at"), start, end):
            self.uploads_by_status[str(item.get("status") or UNKNOWN)] += 1
            self.rows_loaded += int(item.get("rows_loaded") or 0)
            self.rows_rejected += int(item.get("rows_rejected") or 0)

    def summary(self) -> dict[str, Any]:
        """Plain data, keys sorted, no timestamps: the same table gives the same bytes."""
        return {
            "period": {"from": self.period.first.isoformat(), "to": self.period.last.isoformat()},
            "properties": {
                "total": sum(self.properties_by_type.values()),
                "updated_in_period": self.properties_updated_in_period,
                "by_type": dict(sorted(self.properties_by_type.items())),
                "by_postcode_area": dict(sorted(self.properties_by_area.items())),
            },
            "uploads_processed_in_period": {
                "total": sum(self.uploads_by_status.values()),
                "by_status": dict(sorted(self.uploads_by_status.items())),
                "rows_loaded": self.rows_loaded,
                "rows_rejected": self.rows_rejected,
            },
        }

    def summary_json(self) -> bytes:
        return (json.dumps(self.summary(), indent=2, sort_keys=True) + "\n").encode("utf-8")

    def csv_bytes(self) -> bytes:
        """``section,key,value`` rows, sorted within each section."""
        summary = self.summary()
        properties, uploads = summary["properties"], summary["uploads_processed_in_period"]
        rows: list[tuple[str, str, int]] = [
            ("properties", "total", properties["total"]),
            ("properties", "updated_in_period", properties["updated_in_period"]),
            *(("property_type", k, v) for k, v in properties["by_type"].items()),
            *(("postcode_area", k, v) for k, v in properties["by_postcode_area"].items()),
            ("uploads", "processed_total", uploads["total"]),
            *(("upload_status", k, v) for k, v in uploads["by_status"].items()),
            ("uploads", "rows_loaded", uploads["rows_loaded"]),
            ("uploads", "rows_rejected", uploads["rows_rejected"]),
        ]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("section", "key", "value"))
        writer.writerows(rows)
        return out.getvalue().encode("utf-8")


class ScannableTable(Protocol):
    """What the report reads the table with: a boto3 ``Table``'s ``scan``."""

    def scan(self, **kwargs: Unpack[ScanInputTableScanTypeDef]) -> ScanOutputTableTypeDef: ...


def gather_figures(
    table: ScannableTable, period: Period, *, page_size: int | None = None
) -> ReportFigures:
    """Scan ``table`` (a boto3 Table resource) page by page into the period's figures."""
    figures = ReportFigures(period)
    start, end = period.utc_bounds()
    for item in _scan(table, page_size):
        figures.add(item, start, end)
    return figures


def _scan(table: ScannableTable, page_size: int | None) -> Iterator[Mapping[str, Any]]:
    kwargs: dict[str, Any] = {
        "FilterExpression": "begins_with(pk, :property) OR begins_with(pk, :upload)",
        "ProjectionExpression": _PROJECTION,
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": {":property": PROPERTY_PK_PREFIX, ":upload": UPLOAD_PK_PREFIX},
    }
    if page_size is not None:
        kwargs["Limit"] = page_size
    while True:
        page = table.scan(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _within(value: object, start: datetime, end: datetime) -> bool:
    """Whether an ISO-8601 timestamp lies in [start, end); unparsable values do not."""
    if not isinstance(value, str):
        return False
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return moment.tzinfo is not None and start <= moment < end
