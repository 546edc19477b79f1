"""The per-upload result object, ``results/<key>.json``, written without holding rows.

Rejected rows go to a temporary file as JSON lines while a chunk runs. A chunk that is
not the last uploads its lines as a part object; the last chunk streams the parts and
its own lines into one JSON document on disk and uploads that (multipart above 8 MiB),
then deletes the parts. Memory stays flat however many rows are rejected.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from runtime.contract.storage import RESULTS_PREFIX, result_key_for
from runtime.tasks.uploads.model import UploadRef, upload_digest

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

__all__ = ["RejectionSpool", "part_key", "write_part", "write_result"]

_DELETE_BATCH = 1000  # DeleteObjects' limit


class RejectionSpool:
    """Rejected rows of one chunk, as JSON lines in a temporary file."""

    def __init__(self) -> None:
        # Closed by __exit__; the spool is always used as a context manager.
        self._file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self.count = 0

    def add(self, row: int, reason: str) -> None:
        line = json.dumps({"row": row, "reason": reason}, ensure_ascii=False)
        self._file.write(line.encode("utf-8") + b"\n")
        self.count += 1

    def rewind(self) -> IO[bytes]:
        self._file.flush()
        self._file.seek(0)
        return self._file

    def __enter__(self) -> RejectionSpool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._file.close()


def part_key(upload: UploadRef, chunk_number: int) -> str:
    """Where chunk ``chunk_number``'s rejected rows wait for the final result."""
    return f"{RESULTS_PREFIX}{upload.key}.parts/{upload_digest(upload)}/{chunk_number:06d}.jsonl"


def write_part(s3: S3Client, upload: UploadRef, chunk_number: int, spool: RejectionSpool) -> None:
    # Written even when empty, so the last chunk can read every part without
    # s3:ListBucket (without it a missing key is a 403, not a 404).
    s3.upload_fileobj(spool.rewind(), upload.bucket, part_key(upload, chunk_number))


def write_result(
    s3: S3Client,
    upload: UploadRef,
    summary: Mapping[str, Any],
    *,
    earlier_chunks: int,
    spool: RejectionSpool | None,
) -> str:
    """Upload ``summary`` plus every rejected row as ``results/<key>.json``; returns its key."""
    key = result_key_for(upload.key)
    with tempfile.TemporaryFile() as out:
        head = json.dumps({**summary, "rejected_rows": []}, ensure_ascii=False)
        out.write(head[: -len("[]}")].encode("utf-8") + b"[\n")
        first = True
        for number in range(earlier_chunks):
            body = s3.get_object(Bucket=upload.bucket, Key=part_key(upload, number))["Body"]
            first = _append_lines(out, body.iter_lines(), first)
        if spool is not None:
            first = _append_lines(out, spool.rewind(), first)
        out.write(b"\n]}\n")
        out.seek(0)
        s3.upload_fileobj(out, upload.bucket, key, ExtraArgs={"ContentType": "application/json"})
    _delete_parts(s3, upload, earlier_chunks)
    return key


def _append_lines(out: IO[bytes], lines: Iterable[bytes], first: bool) -> bool:
    for line in lines:
        line = line.rstrip(b"\n")
        if not line:
            continue
        out.write(line if first else b",\n" + line)
        first = False
    return first


def _delete_parts(s3: S3Client, upload: UploadRef, count: int) -> None:
    keys = [part_key(upload, number) for number in range(count)]
    for start in range(0, len(keys), _DELETE_BATCH):
        batch = keys[start : start + _DELETE_BATCH]
        s3.delete_objects(
            Bucket=upload.bucket,
            Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
        )
