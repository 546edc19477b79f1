"""Stand-in for 'property-bulk-upload': a CSV of property records in S3."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime._log import logger
from runtime.dispatcher import TaskContext
from runtime.tasks import require


def validate_payload(payload: Mapping[str, Any]) -> None:
    require(payload, "property-bulk-upload", ("bucket", "key"))


def handle(payload: Mapping[str, Any], context: TaskContext) -> None:
    logger.info(
        "stand-in: property bulk upload",
        extra={"id": context.envelope_id, "bucket": payload["bucket"], "key": payload["key"]},
    )
