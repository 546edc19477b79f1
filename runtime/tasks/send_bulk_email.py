"""Stand-in for 'send-bulk-email': a template and a recipient list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime._log import logger
from runtime.dispatcher import TaskContext
from runtime.tasks import require


def validate_payload(payload: Mapping[str, Any]) -> None:
    require(payload, "send-bulk-email", ("template", "recipients_list"))


def handle(payload: Mapping[str, Any], context: TaskContext) -> None:
    logger.info(
        "stand-in: send bulk email",
        extra={
            "id": context.envelope_id,
            "template": payload["template"],
            "recipients_list": payload["recipients_list"],
        },
    )
