"""The payload of 'property-bulk-upload': the upload, and the checkpoint of a continuation.

A file is loaded in chunks of at most ``ASYNC_TASKS_UPLOAD_CHUNK_ROWS`` rows, one task
per chunk, so no run comes near Lambda's 15 minutes. The first task's payload names
only the object; each later one carries the :class:`Checkpoint` its predecessor
reached::

    {"bucket": "b", "key": "uploads/properties/x.csv", "version_id": "v1",
     "start_row": 20002,
     "chunk": {"number": 1, "byte_offset": 1834567, "columns": ["uprn", ...],
               "size": 9234567, "etag": "\\"9b2c…\\"", "started_at": "…Z",
               "rows_total": 20000, "rows_loaded": 19990, "rows_rejected": 10}}

``byte_offset`` is where the next record starts, so the continuation reads the object
from there with a ranged GET instead of from the start. ``columns`` is the header
(which a ranged read skips); the counts are running totals for the final result.
Continuations are enqueued with the idempotency key :func:`chunk_idempotency_key`
(upload + chunk number), so each chunk runs once however often it is enqueued.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from runtime.contract import UPLOAD_CHUNK_ROWS_ENV as CHUNK_ROWS_ENV
from runtime.contract import UPLOAD_MAX_BYTES_ENV as MAX_BYTES_ENV
from runtime.contract import UPLOAD_SCANNING_ENV as SCANNING_ENV
from runtime.contract import UploadScanning
from runtime.errors import ConfigurationError, PayloadValidationError
from runtime.tasks.uploads.model import UploadRef, upload_digest

__all__ = [
    "CHUNK_ROWS_ENV",
    "MAX_BYTES_ENV",
    "TASK",
    "Checkpoint",
    "UploadSettings",
    "chunk_idempotency_key",
    "parse_payload",
    "task_payload",
]

TASK = "property-bulk-upload"
# 20,000 rows take well under a minute (batched writes of 25), far inside 15 minutes.
DEFAULT_CHUNK_ROWS = 20_000
# About 10 million rows; a bigger file is refused with a clear result, not half-loaded.
DEFAULT_MAX_BYTES = 1024**3
# The spreadsheet row of the first data record: the header is row 1.
FIRST_DATA_ROW = 2


@dataclass(frozen=True, kw_only=True)
class UploadSettings:
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    max_bytes: int = DEFAULT_MAX_BYTES
    scanning: UploadScanning = UploadScanning.GUARDDUTY
    """Default (and when the variable is unset): only GuardDuty-clean uploads load."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> UploadSettings:
        env = os.environ if environ is None else environ
        return cls(
            chunk_rows=_positive_int(env, CHUNK_ROWS_ENV, DEFAULT_CHUNK_ROWS),
            max_bytes=_positive_int(env, MAX_BYTES_ENV, DEFAULT_MAX_BYTES),
            scanning=_scanning(env),
        )


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """Where chunk ``number`` starts, and the totals of the chunks before it."""

    number: int
    start_row: int
    byte_offset: int
    columns: tuple[str, ...]
    size: int
    etag: str
    started_at: str
    rows_total: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0

    def chunk_fields(self) -> dict[str, Any]:
        fields = asdict(self)
        del fields["start_row"]
        fields["columns"] = list(self.columns)
        return fields


def task_payload(upload: UploadRef, checkpoint: Checkpoint | None = None) -> dict[str, Any]:
    """The payload of the task that loads ``upload`` (from ``checkpoint`` if given)."""
    payload: dict[str, Any] = {"bucket": upload.bucket, "key": upload.key}
    if upload.version_id:
        payload["version_id"] = upload.version_id
    if checkpoint is not None:
        payload["start_row"] = checkpoint.start_row
        payload["chunk"] = checkpoint.chunk_fields()
    return payload


def chunk_idempotency_key(upload: UploadRef, chunk_number: int) -> str:
    """One key per upload version and chunk: enqueuing a chunk twice runs it once."""
    return f"upload-{upload_digest(upload)}-chunk-{chunk_number}"


def parse_payload(payload: Mapping[str, Any]) -> tuple[UploadRef, Checkpoint | None]:
    """The upload and checkpoint in a payload; PayloadValidationError lists every problem."""
    problems: list[str] = []
    for name in ("bucket", "key"):
        if not isinstance(payload.get(name), str) or not payload[name]:
            problems.append(f"'{name}' must be a non-empty string")
    version_id = payload.get("version_id")
    if version_id is not None and (not isinstance(version_id, str) or not version_id):
        problems.append("'version_id' must be a non-empty string when present")
    if ("chunk" in payload) != ("start_row" in payload):
        problems.append("'start_row' and 'chunk' come together (a continuation) or not at all")
    checkpoint = None
    if "chunk" in payload and "start_row" in payload:
        checkpoint = _checkpoint(payload["start_row"], payload["chunk"], problems)
    if problems:
        raise PayloadValidationError(f"payload of task '{TASK}': " + "; ".join(problems))
    return UploadRef(payload["bucket"], payload["key"], version_id), checkpoint


def _checkpoint(start_row: Any, chunk: Any, problems: list[str]) -> Checkpoint | None:
    if not isinstance(chunk, Mapping):
        problems.append("'chunk' must be an object")
        return None
    counts = ("number", "byte_offset", "size", "rows_total", "rows_loaded", "rows_rejected")
    ints = {"start_row": start_row, **{name: chunk.get(name) for name in counts}}
    for name, value in ints.items():
        if type(value) is not int or value < 0:
            problems.append(f"'{name}' must be a non-negative integer, got {value!r}")
    columns = chunk.get("columns")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        problems.append("'chunk.columns' must be a list of column names")
    for name in ("etag", "started_at"):
        if not isinstance(chunk.get(name), str):
            problems.append(f"'chunk.{name}' must be a string")
    if problems:
        return None
    return Checkpoint(
        start_row=start_row,
        columns=tuple(chunk["columns"]),
        etag=chunk["etag"],
        started_at=chunk["started_at"],
        **{name: chunk[name] for name in counts},
    )


def _scanning(env: Mapping[str, str]) -> UploadScanning:
    raw = env.get(SCANNING_ENV, UploadScanning.GUARDDUTY.value)
    try:
        return UploadScanning(raw)
    except ValueError:
        valid = ", ".join(value.value for value in UploadScanning)
        raise ConfigurationError(f"{SCANNING_ENV} is '{raw}'; use one of {valid}") from None


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigurationError(f"{name} is {raw!r}; set it to a positive integer or unset it")
    return int(raw)
