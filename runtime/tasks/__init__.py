"""Stand-in handlers for the catalogue's task types, one module per task.

Each module has ``handle(payload, context)`` and ``validate_payload(payload)``. They
only validate and log: real handlers replace them, either here or by registering the
same task name from a web-app module (``ASYNC_TASKS_MODULES``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from runtime.errors import PayloadValidationError


def require(payload: Mapping[str, Any], task: str, keys: Iterable[str]) -> None:
    """Raise PayloadValidationError naming every missing or empty key."""
    missing = [key for key in keys if payload.get(key) in (None, "")]
    if missing:
        raise PayloadValidationError(f"payload of task '{task}' is missing {missing}")
