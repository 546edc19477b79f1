"""'generate-report': property and upload figures for a period, as a CSV and a JSON in S3.

Payload: ``{"period": "previous-day"}`` (the nightly schedule; the day before the
envelope's ``created_at`` in Europe/London) or ``{"from": "YYYY-MM-DD", "to":
"YYYY-MM-DD"}`` (on demand, both days included). Output, overwritten on every run::

    reports/<from>_<to>/properties.csv   section,key,value rows
    reports/<from>_<to>/summary.json     the same figures, nested

Idempotent by construction: the key depends only on the period and the content only
on the table, with no run timestamp in either, so a repeated delivery rewrites the
same bytes to the same keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.aws_clients import client
from runtime.context import TaskContext
from runtime.contract.storage import REPORTS_PREFIX
from runtime.log import logger
from runtime.tasks.data import bucket_from_env, table_from_env
from runtime.tasks.reports.figures import gather_figures
from runtime.tasks.reports.period import Period, check_period_payload, period_from

__all__ = ["handle", "report_keys", "validate_payload"]


def validate_payload(payload: Mapping[str, Any]) -> None:
    check_period_payload(payload)


def report_keys(period: Period) -> tuple[str, str]:
    """The CSV and JSON keys of a period's report."""
    folder = f"{REPORTS_PREFIX}{period.label}/"
    return f"{folder}properties.csv", f"{folder}summary.json"


def handle(payload: Mapping[str, Any], context: TaskContext) -> None:
    period = period_from(payload, created_at=context.created_at)
    bucket = bucket_from_env()
    figures = gather_figures(table_from_env(), period)
    csv_key, json_key = report_keys(period)
    s3 = client("s3")
    s3.put_object(Bucket=bucket, Key=csv_key, Body=figures.csv_bytes(), ContentType="text/csv")
    s3.put_object(
        Bucket=bucket, Key=json_key, Body=figures.summary_json(), ContentType="application/json"
    )
    logger.info(
        "report written",
        extra={
            "id": context.envelope_id,
            "bucket": bucket,
            "key": csv_key,
            "properties": sum(figures.properties_by_type.values()),
            "uploads": sum(figures.uploads_by_status.values()),
        },
    )
