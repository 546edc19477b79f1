"""Stand-in for 'virus-scan-result': the payload is a GuardDuty Malware Protection event."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime._log import logger
from runtime.dispatcher import TaskContext
from runtime.errors import PayloadValidationError
from runtime.tasks import require

STATUSES = {"NO_THREATS_FOUND", "THREATS_FOUND", "UNSUPPORTED", "ACCESS_DENIED", "FAILED"}


def validate_payload(payload: Mapping[str, Any]) -> None:
    require(payload, "virus-scan-result", ("source", "detail-type", "detail"))
    detail = payload["detail"]
    if not isinstance(detail, Mapping):
        raise PayloadValidationError("virus-scan-result: 'detail' must be an object")
    status = detail.get("scanResultDetails", {}).get("scanResultStatus")
    if status not in STATUSES:
        raise PayloadValidationError(
            f"virus-scan-result: scanResultStatus is {status!r}; expected one of {sorted(STATUSES)}"
        )
    require(detail.get("s3ObjectDetails", {}), "virus-scan-result", ("bucketName", "objectKey"))


def handle(payload: Mapping[str, Any], context: TaskContext) -> None:
    detail = payload["detail"]
    logger.info(
        "stand-in: virus scan result received",
        extra={
            "id": context.envelope_id,
            "status": detail["scanResultDetails"]["scanResultStatus"],
            "bucket": detail["s3ObjectDetails"]["bucketName"],
            "key": detail["s3ObjectDetails"]["objectKey"],
        },
    )
