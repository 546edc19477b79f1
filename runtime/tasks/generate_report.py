"""Stand-in for 'generate-report': the schedule sends {"period": "previous-day"}."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime._log import logger
from runtime.dispatcher import TaskContext
from runtime.tasks import require


def validate_payload(payload: Mapping[str, Any]) -> None:
    require(payload, "generate-report", ("period",))


def handle(payload: Mapping[str, Any], context: TaskContext) -> None:
    logger.info(
        "stand-in: generate report", extra={"id": context.envelope_id, "period": payload["period"]}
    )
