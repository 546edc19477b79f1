"""The task envelope: the one JSON wire format on every path (SQS, HTTP, schedules).

``encode`` refuses a body above the smallest limit on the envelope's path (see
:mod:`runtime.contract.payload_limits`) at enqueue time, with an error naming the path and the
limit, rather than storing large payloads in S3 (claim check): a claim check would add
an S3 dependency, IAM grants and a lifecycle rule to every path, including the
Scheduler and EventBridge inputs, to serve payloads that should be S3 keys anyway.

``decode`` accepts exactly the shapes the infrastructure writes: the producer's,
EventBridge Scheduler's (``id`` = execution id, ``created_at`` = scheduled time) and an
EventBridge rule's input transformer (``payload`` = the whole event).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

from runtime.contract import ENVELOPE_VERSION
from runtime.contract.payload_limits import (
    ENDPOINT_PATH,
    SHARED_QUEUE_PATH,
    TASK_QUEUE_PATH,
    PathLimit,
)
from runtime.contract.storage import ENVELOPE_TEXT_BYTES
from runtime.errors import EnvelopeTooLargeError, InvalidEnvelopeError

__all__ = [
    "ENVELOPE_VERSION",
    "MAX_BODY_BYTES",
    "SMALLEST_PATH",
    "Envelope",
    "decode",
    "encode",
    "new_envelope",
]

# The smallest limit of any path: what ``encode`` enforces when no path is named.
SMALLEST_PATH = min((SHARED_QUEUE_PATH, TASK_QUEUE_PATH, ENDPOINT_PATH), key=lambda p: p.max_bytes)
# The largest body any path accepts (an HTTP server's request cap).
MAX_BODY_BYTES = max(
    SHARED_QUEUE_PATH.max_bytes, TASK_QUEUE_PATH.max_bytes, ENDPOINT_PATH.max_bytes
)
# Bounds that keep a key usable in a DynamoDB key and an SQS message attribute, both
# of which count UTF-8 bytes, not characters (512 emoji are 2,048 bytes).
_MAX_ID_BYTES = ENVELOPE_TEXT_BYTES


class Envelope(TypedDict):
    """The wire format. ``payload`` is the task's own JSON object."""

    task: str
    id: str
    version: int
    created_at: str
    payload: dict[str, Any]
    idempotency_key: NotRequired[str]
    trace: NotRequired[str]


_REQUIRED = ("task", "id", "version", "created_at", "payload")
_OPTIONAL = ("idempotency_key", "trace")


def new_envelope(
    task: str,
    payload: Mapping[str, Any],
    *,
    idempotency_key: str | None = None,
    trace: str | None = None,
) -> Envelope:
    """A fresh envelope with a random id and the current UTC time."""
    if not isinstance(payload, Mapping):
        raise InvalidEnvelopeError(
            f"payload for task '{task}' must be a mapping (a JSON object), "
            f"got {type(payload).__name__}"
        )
    envelope = Envelope(
        task=task,
        id=str(uuid.uuid4()),
        version=ENVELOPE_VERSION,
        created_at=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        payload=dict(payload),
    )
    if idempotency_key is not None:
        envelope["idempotency_key"] = idempotency_key
    if trace is not None:
        envelope["trace"] = trace
    _check(dict(envelope))
    return envelope


def encode(envelope: Envelope, path: PathLimit = SMALLEST_PATH) -> str:
    """The JSON body; raises EnvelopeTooLargeError above ``path``'s limit."""
    _check(dict(envelope))
    try:
        body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidEnvelopeError(
            f"payload for task '{envelope['task']}' is not JSON-serializable: {error}"
        ) from error
    size = len(body.encode("utf-8"))
    if size > path.max_bytes:
        raise EnvelopeTooLargeError(
            f"envelope for task '{envelope['task']}' is {size:,} bytes; the limit on "
            f"{path.path} is {path.max_bytes:,} bytes ({path.why}). Store the data in "
            "S3 and put its key in the payload."
        )
    return body


def decode(body: str | bytes) -> Envelope:
    """Parse and check a body; raises InvalidEnvelopeError naming every problem."""
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError) as error:
        # ValueError covers malformed JSON, bad UTF-8 and an integer past Python's
        # int-string limit (4,300 digits); RecursionError, nesting past the recursion
        # limit. The same body fails the same way on every attempt.
        raise InvalidEnvelopeError(f"body is not JSON the runtime can read: {error}") from error
    if not isinstance(raw, dict):
        raise InvalidEnvelopeError(f"body must be a JSON object, got {type(raw).__name__}")
    _check(raw)
    envelope = Envelope(
        task=raw["task"],
        id=raw["id"],
        version=raw["version"],
        created_at=raw["created_at"],
        payload=raw["payload"],
    )
    for key in _OPTIONAL:
        if key in raw:
            envelope[key] = raw[key]  # type: ignore[literal-required]
    return envelope


def _check(raw: dict[str, Any]) -> None:
    problems = [f"missing '{key}'" for key in _REQUIRED if key not in raw]
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        problems.append(f"unknown field(s) {unknown}")
    for key in ("task", "id", *_OPTIONAL):
        if key in raw and (problem := _text_problem(raw[key])):
            problems.append(f"'{key}' {problem}")
    version = raw.get("version")
    if "version" in raw and (type(version) is not int or version != ENVELOPE_VERSION):
        problems.append(f"'version' must be {ENVELOPE_VERSION}, got {version!r}")
    if "created_at" in raw and not _is_utc_timestamp(raw["created_at"]):
        problems.append(
            f"'created_at' must be an ISO-8601 time with a zone, got {raw['created_at']!r}"
        )
    if "payload" in raw and not isinstance(raw["payload"], dict):
        problems.append(f"'payload' must be an object, got {type(raw['payload']).__name__}")
    if problems:
        task = raw.get("task") if isinstance(raw.get("task"), str) else "?"
        raise InvalidEnvelopeError(f"invalid envelope (task '{task}'): " + "; ".join(problems))


def _text_problem(value: object) -> str | None:
    """Why ``value`` cannot be a name or key, or None if it can."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate ("\\ud800"): no service stores it
        return "must be valid Unicode text (it holds a lone surrogate)"
    if size > _MAX_ID_BYTES:
        return (
            f"is {size:,} bytes in UTF-8 ({len(value):,} characters); the limit is "
            f"{_MAX_ID_BYTES} bytes, because DynamoDB keys count bytes. Use a shorter one"
        )
    return None


def _is_utc_timestamp(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed.tzinfo is not None
