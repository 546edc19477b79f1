"""'generate-report' against moto (S3 and the task table with its real key schema)."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import boto3
import pytest

from runtime.dispatcher import Outcome
from runtime.errors import PayloadValidationError
from runtime.tasks.reports import generate_report
from runtime.tasks.reports.figures import gather_figures
from runtime.tasks.reports.period import Period
from runtime.tasks.uploads.model import (
    PropertyRecord,
    UploadRef,
    UploadStatus,
    property_item,
    put_upload_status,
)
from tests.runtime.helpers import load_event


@pytest.fixture
def store(task_table: Any) -> Callable[..., None]:
    """Put properties (uprn, type, postcode) and processed uploads (key, processed_at)."""
    resource = task_table

    def put(
        properties: Sequence[tuple[str, str, str]] = (),
        uploads: Sequence[tuple[str, str, int, int]] = (),
        updated_at: str = "2026-11-26T12:00:00Z",
    ) -> None:
        for uprn, kind, postcode in properties:
            record = PropertyRecord(
                uprn=uprn,
                address_lines=("1 High St",),
                town="Town",
                postcode=postcode,
                property_type=kind,
            )
            resource.put_item(Item=property_item(record, upload_key="u.csv", updated_at=updated_at))
        for key, processed_at, loaded, rejected in uploads:
            fields = {
                "processed_at": processed_at,
                "rows_loaded": loaded,
                "rows_rejected": rejected,
            }
            put_upload_status(resource, UploadRef("b", key), UploadStatus.PROCESSED, fields=fields)

    return put


def _object(bucket: str, key: str) -> bytes:
    return bytes(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def test_nightly_schedule_reports_the_previous_london_day(
    task_bucket: str, store: Any, dispatch: Any
) -> None:
    # GIVEN three properties and uploads processed on, before and after 26 November
    store(
        properties=[
            ("1", "flat", "SW1A 1AA"),
            ("2", "flat", "M1 1AE"),
            ("3", "detached", "SW2 1AA"),
        ],
        uploads=[
            ("uploads/properties/a.csv", "2026-11-26T00:00:00Z", 10, 1),
            ("uploads/properties/b.csv", "2026-11-26T23:59:59Z", 5, 0),
            ("uploads/properties/early.csv", "2026-11-25T23:59:59Z", 99, 99),
            ("uploads/properties/late.csv", "2026-11-27T00:00:00Z", 99, 99),
        ],
    )
    # WHEN the schedule's message (created 27 Nov 02:00) is dispatched
    result = dispatch(json.dumps(load_event("scheduler_generate_report.json")))

    # THEN the report for 26 November counts every property and only that day's uploads
    assert result.outcome is Outcome.SUCCEEDED, result.reason
    rows = list(
        csv.reader(
            io.StringIO(
                _object(task_bucket, "reports/2026-11-26_2026-11-26/properties.csv").decode()
            )
        )
    )
    assert rows[0] == ["section", "key", "value"]
    assert ["property_type", "flat", "2"] in rows
    assert ["property_type", "detached", "1"] in rows
    assert ["postcode_area", "SW", "2"] in rows
    assert ["postcode_area", "M", "1"] in rows
    summary = json.loads(_object(task_bucket, "reports/2026-11-26_2026-11-26/summary.json"))
    assert summary["uploads_processed_in_period"] == {
        "total": 2,
        "by_status": {"processed": 2},
        "rows_loaded": 15,
        "rows_rejected": 1,
    }
    assert summary["properties"]["total"] == 3
    assert summary["properties"]["updated_in_period"] == 3


def test_explicit_period_uses_london_midnight_in_summer_time(
    task_bucket: str, store: Any, dispatch: Any
) -> None:
    # 1 July in BST runs from 30 June 23:00 UTC to 1 July 23:00 UTC.
    store(
        uploads=[
            ("uploads/properties/in.csv", "2026-06-30T23:30:00Z", 7, 2),
            ("uploads/properties/out.csv", "2026-07-01T23:30:00Z", 99, 99),
        ]
    )
    result = dispatch(json.dumps(load_event("report_on_demand.json")))

    assert result.outcome is Outcome.SUCCEEDED, result.reason
    summary = json.loads(_object(task_bucket, "reports/2026-07-01_2026-07-01/summary.json"))
    assert summary["period"] == {"from": "2026-07-01", "to": "2026-07-01"}
    assert summary["uploads_processed_in_period"]["rows_loaded"] == 7


def test_a_repeated_delivery_or_rerun_writes_the_same_bytes(
    task_bucket: str, store: Any, dispatch: Any
) -> None:
    store(properties=[("1", "terraced", "LS1 1AA")])
    body = json.dumps(load_event("scheduler_generate_report.json"))
    key = "reports/2026-11-26_2026-11-26/properties.csv"
    assert dispatch(body).outcome is Outcome.SUCCEEDED
    first = _object(task_bucket, key)

    # The same message again is a ledger duplicate; a new on-demand run for the same
    # period (another envelope) overwrites the key with identical content.
    assert dispatch(body).outcome is Outcome.DUPLICATE
    rerun = {**load_event("scheduler_generate_report.json"), "id": str(uuid.uuid4())}
    assert dispatch(json.dumps(rerun)).outcome is Outcome.SUCCEEDED

    assert _object(task_bucket, key) == first
    assert len(boto3.client("s3").list_objects_v2(Bucket=task_bucket)["Contents"]) == 2


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "give either"),
        ({"period": "yesterday"}, "only relative period"),
        ({"period": "previous-day", "from": "2026-11-01"}, "give either"),
        ({"from": "2026-11-01"}, "'to' is None"),
        ({"from": "2026-13-01", "to": "2026-12-01"}, "'from' is '2026-13-01'"),
        ({"from": "2026-11-02", "to": "2026-11-01"}, "before"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "longer than 366 days"),
    ],
)
def test_rejects_a_bad_period_with_the_reason(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(PayloadValidationError, match=message):
        generate_report.validate_payload(payload)


def test_a_bad_period_is_dead_lettered_not_retried(dispatch: Any) -> None:
    envelope = {**load_event("scheduler_generate_report.json"), "payload": {"period": "weekly"}}
    result = dispatch(json.dumps(envelope))

    assert result.outcome is Outcome.DEAD_LETTER
    assert "only relative period" in result.reason


def test_figures_stream_through_scan_pages(task_table: Any, store: Any) -> None:
    store(properties=[(str(n), "flat", "E1 6AN") for n in range(7)])
    resource = task_table
    pages: list[int] = []

    class CountingTable:
        def scan(self, **kwargs: Any) -> Any:
            page = resource.scan(**kwargs)
            pages.append(len(page["Items"]))
            return page

    day = date(2026, 11, 26)
    figures = gather_figures(CountingTable(), Period(day, day), page_size=3)

    assert len(pages) >= 3
    assert figures.properties_by_type == {"flat": 7}
