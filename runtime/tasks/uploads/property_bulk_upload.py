"""'property-bulk-upload': validate a CSV of property records in S3 and load it.

One task loads one chunk of at most ``ASYNC_TASKS_UPLOAD_CHUNK_ROWS`` rows, streamed
from S3 (a ranged GET from the checkpoint's byte offset for later chunks), upserts the
valid rows by UPRN in batches of 25, and then either enqueues the next chunk or, at
the end of the file, writes ``results/<key>.json`` and marks the upload ``processed``.
See ``_upload_chunks`` for the payload and checkpoint.

Which uploads load depends on ``ASYNC_TASKS_UPLOAD_SCANNING``: with malware protection
on (``guardduty``), only versions GuardDuty tagged clean; with it off (``off``, the
default deploy), any version no scan judged, whose status becomes ``unscanned``.

A file that cannot be read as a property CSV (empty, wrong header, not UTF-8,
malformed, too large, gone) gets a result object and the upload status ``failed``
with the reason, and then a :class:`PermanentTaskError`, so the message goes to the
DLQ with that reason. Rejected rows never fail the task; they are listed, with their
row numbers, in the result.

Idempotency: rows are upserts keyed by UPRN, the part and result objects are
overwritten with the same content, and the next chunk is enqueued under the key
"upload + chunk number", so a redelivered chunk loads nothing twice and starts no
second continuation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, NoReturn

from botocore.exceptions import ClientError

from runtime.context import TaskContext
from runtime.contract import UploadScanning
from runtime.errors import PermanentTaskError
from runtime.log import logger
from runtime.tasks.data import table_from_env, utc_now
from runtime.tasks.uploads.chunks import (
    TASK,
    Checkpoint,
    UploadSettings,
    chunk_idempotency_key,
    parse_payload,
    task_payload,
)
from runtime.tasks.uploads.csv_rows import CsvReadError, Record, RecordReader
from runtime.tasks.uploads.csv_schema import HeaderError, Rejected, RowChecker, parse_header
from runtime.tasks.uploads.model import (
    NOT_SCANNED,
    UploadRef,
    UploadStatus,
    get_upload,
    property_item,
    put_upload_status,
)
from runtime.tasks.uploads.results import RejectionSpool, write_part, write_result

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import GetObjectRequestTypeDef

__all__ = ["UploadFailedError", "UploadServices", "handle", "load_chunk", "validate_payload"]

Enqueue = Callable[..., str]
# The later statuses allow a re-run.
_ONCE_STARTED = {UploadStatus.PROCESSING, UploadStatus.PROCESSED, UploadStatus.FAILED}
# With scanning on, only objects GuardDuty found clean are loaded. With scanning off, an
# upload nobody scanned is loaded and marked "unscanned"; one a scan judged (infected,
# needs-attention, or still scanning from when the plan was on) is not.
_LOADABLE: Mapping[UploadScanning, frozenset[UploadStatus | None]] = {
    UploadScanning.GUARDDUTY: frozenset({UploadStatus.CLEAN, *_ONCE_STARTED}),
    UploadScanning.OFF: frozenset(
        {None, UploadStatus.UNSCANNED, UploadStatus.CLEAN, *_ONCE_STARTED}
    ),
}
_READ_CHUNK_BYTES = 256 * 1024
_OBJECT_GONE = {"NoSuchKey", "NoSuchVersion", "404", "PreconditionFailed", "InvalidRange"}


class UploadFailedError(PermanentTaskError):
    """The file cannot be loaded; the result object and upload status say why."""


@dataclass(frozen=True, kw_only=True)
class UploadServices:
    """What the handler talks to; tests and the benchmark inject their own."""

    s3: S3Client
    table: Table
    enqueue: Enqueue
    settings: UploadSettings = field(default_factory=UploadSettings)
    current_year: int = field(default_factory=lambda: datetime.now(UTC).year)


def validate_payload(payload: Mapping[str, Any]) -> None:
    parse_payload(payload)


def handle(payload: Mapping[str, Any], context: TaskContext) -> None:
    from runtime.aws_clients import client
    from runtime.producer import enqueue

    upload, checkpoint = parse_payload(payload)
    services = UploadServices(
        s3=client("s3"),
        table=table_from_env(),
        enqueue=enqueue,
        settings=UploadSettings.from_env(),
    )
    load_chunk(upload, checkpoint, services)


def load_chunk(upload: UploadRef, checkpoint: Checkpoint | None, services: UploadServices) -> bool:
    """Load one chunk; True when the file is finished, False when a continuation is queued."""
    _require_loadable(services.table, upload, services.settings.scanning)
    try:
        if checkpoint is None:
            checkpoint, records = _start(upload, services)
        else:
            records = _resume(upload, checkpoint, services.s3)
        return _load(upload, checkpoint, records, services)
    except UploadFailedError:
        raise
    except (CsvReadError, HeaderError) as error:
        _fail(upload, checkpoint, str(error), services, earlier_chunks=_parts_before(checkpoint))
    except ClientError as error:
        if _code(error) not in _OBJECT_GONE:
            raise  # throttling and the like: transient, the chunk is retried
        reason = f"cannot read the object: {_code(error)}"
        _fail(upload, checkpoint, reason, services, earlier_chunks=_parts_before(checkpoint))


def _require_loadable(table: Table, upload: UploadRef, scanning: UploadScanning) -> None:
    item = get_upload(table, upload)
    status = None if item is None else item.get("status")
    if status not in _LOADABLE[scanning]:
        rule = (
            "only uploads GuardDuty marked clean are loaded (malware protection is on)"
            if scanning is UploadScanning.GUARDDUTY
            else "an upload a malware scan judged is loaded only if it was found clean"
        )
        raise UploadFailedError(
            f"s3://{upload.bucket}/{upload.key} (version {upload.version_id}) has upload "
            f"status {status!r}; {rule}"
        )
    if status is None:
        # Say so where the upload's status is read: nothing scanned this version.
        put_upload_status(
            table, upload, UploadStatus.UNSCANNED, scan_status=NOT_SCANNED, only_from=[None]
        )


def _start(upload: UploadRef, services: UploadServices) -> tuple[Checkpoint, Iterator[Record]]:
    response = services.s3.get_object(**_object_args(upload))
    size = int(response["ContentLength"])
    checkpoint = Checkpoint(
        number=0,
        start_row=1,
        byte_offset=0,
        columns=(),
        size=size,
        etag=response["ETag"],
        started_at=utc_now(),
    )
    put_upload_status(
        services.table,
        upload,
        UploadStatus.PROCESSING,
        fields={"started_at": checkpoint.started_at},
    )
    limit = services.settings.max_bytes
    if size > limit:
        response["Body"].close()
        reason = f"the file is {size} bytes; the limit is {limit}"
        _fail(upload, checkpoint, reason, services, earlier_chunks=0)
    reader = RecordReader(response["Body"].iter_chunks(_READ_CHUNK_BYTES))
    records = iter(reader)
    header = next(records, None)
    if header is None:
        reason = "the file is empty; expected a header row"
        _fail(upload, checkpoint, reason, services, earlier_chunks=0)
    columns = parse_header(header.fields)
    started = replace(
        checkpoint, columns=columns, start_row=reader.next_row, byte_offset=header.next_offset
    )
    return started, records


def _resume(upload: UploadRef, checkpoint: Checkpoint, s3: S3Client) -> Iterator[Record]:
    if checkpoint.byte_offset >= checkpoint.size:
        return iter(())  # only blank lines were left; S3 refuses a range past the end
    arguments = _object_args(upload)
    arguments["Range"] = f"bytes={checkpoint.byte_offset}-"
    if not upload.version_id:
        # Without a version id, the ETag catches an object replaced between chunks.
        arguments["IfMatch"] = checkpoint.etag
    response = s3.get_object(**arguments)
    reader = RecordReader(
        response["Body"].iter_chunks(_READ_CHUNK_BYTES),
        start_offset=checkpoint.byte_offset,
        first_row=checkpoint.start_row,
    )
    return iter(reader)


def _load(
    upload: UploadRef,
    checkpoint: Checkpoint,
    records: Iterator[Record],
    services: UploadServices,
) -> bool:
    checker = RowChecker(checkpoint.columns, current_year=services.current_year)
    now = utc_now()
    loaded = rejected = 0
    next_row, next_offset = checkpoint.start_row, checkpoint.byte_offset
    with RejectionSpool() as spool:
        try:
            # overwrite_by_pkeys: a UPRN repeated within one batch of 25 would make
            # BatchWriteItem fail; the later row wins, as it does across batches.
            with services.table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
                for record in islice(records, services.settings.chunk_rows):
                    outcome = checker.check(record.fields)
                    if isinstance(outcome, Rejected):
                        spool.add(record.row, outcome.reason)
                        rejected += 1
                    else:
                        batch.put_item(
                            Item=property_item(outcome, upload_key=upload.key, updated_at=now)
                        )
                        loaded += 1
                    next_row, next_offset = record.row + 1, record.next_offset
        except CsvReadError as error:
            done = _advance(checkpoint, loaded, rejected, next_row, next_offset)
            _fail(upload, done, str(error), services, spool=spool, earlier_chunks=checkpoint.number)
        done = _advance(checkpoint, loaded, rejected, next_row, next_offset)
        # A full chunk does not prove more rows follow: the file may end right there.
        if loaded + rejected == services.settings.chunk_rows and next_offset < checkpoint.size:
            _continue(upload, done, spool, services)
            return False
        if done.rows_total == 0:
            reason = "the file has a header but no data rows"
            _fail(upload, done, reason, services, spool=spool, earlier_chunks=checkpoint.number)
        _record_result(
            upload, done, UploadStatus.PROCESSED, None, services, spool, checkpoint.number
        )
        logger.info("property upload processed", extra={**_where(upload), **_counts(done)})
        return True


def _advance(
    checkpoint: Checkpoint, loaded: int, rejected: int, next_row: int, next_offset: int
) -> Checkpoint:
    return replace(
        checkpoint,
        number=checkpoint.number + 1,
        start_row=next_row,
        byte_offset=next_offset,
        rows_total=checkpoint.rows_total + loaded + rejected,
        rows_loaded=checkpoint.rows_loaded + loaded,
        rows_rejected=checkpoint.rows_rejected + rejected,
    )


def _continue(
    upload: UploadRef, done: Checkpoint, spool: RejectionSpool, services: UploadServices
) -> None:
    write_part(services.s3, upload, done.number - 1, spool)
    put_upload_status(services.table, upload, UploadStatus.PROCESSING, fields=_counts(done))
    envelope_id = services.enqueue(
        TASK, task_payload(upload, done), idempotency_key=chunk_idempotency_key(upload, done.number)
    )
    logger.info(
        "property upload chunk loaded; continuation queued",
        extra={**_where(upload), **_counts(done), "chunk": done.number, "next": envelope_id},
    )


def _fail(
    upload: UploadRef,
    checkpoint: Checkpoint | None,
    reason: str,
    services: UploadServices,
    *,
    spool: RejectionSpool | None = None,
    earlier_chunks: int,
) -> NoReturn:
    """Record the failure (result object and status), then raise UploadFailedError."""
    _record_result(upload, checkpoint, UploadStatus.FAILED, reason, services, spool, earlier_chunks)
    logger.warning("property upload failed", extra={**_where(upload), "reason": reason})
    raise UploadFailedError(f"s3://{upload.bucket}/{upload.key}: {reason}")


def _record_result(
    upload: UploadRef,
    checkpoint: Checkpoint | None,
    status: UploadStatus,
    reason: str | None,
    services: UploadServices,
    spool: RejectionSpool | None,
    earlier_chunks: int,
) -> None:
    """Write the result object (with the rejected rows of every chunk) and the status.

    ``earlier_chunks`` chunks left their rejected rows in part objects; the current
    chunk's are in ``spool``.
    """
    counts = _counts(checkpoint)
    finished_at = utc_now()
    summary = {
        "bucket": upload.bucket,
        "key": upload.key,
        "version_id": upload.version_id,
        "status": str(status),
        "reason": reason,
        **counts,
        "started_at": None if checkpoint is None else checkpoint.started_at,
        "finished_at": finished_at,
    }
    key = write_result(services.s3, upload, summary, earlier_chunks=earlier_chunks, spool=spool)
    fields: dict[str, Any] = {**counts, "result_key": key, "processed_at": finished_at}
    if reason is not None:
        fields["reason"] = reason
    put_upload_status(services.table, upload, status, fields=fields)


def _parts_before(checkpoint: Checkpoint | None) -> int:
    return 0 if checkpoint is None else checkpoint.number


def _counts(checkpoint: Checkpoint | None) -> dict[str, int]:
    if checkpoint is None:
        return {"rows_total": 0, "rows_loaded": 0, "rows_rejected": 0}
    return {
        "rows_total": checkpoint.rows_total,
        "rows_loaded": checkpoint.rows_loaded,
        "rows_rejected": checkpoint.rows_rejected,
    }


def _object_args(upload: UploadRef) -> GetObjectRequestTypeDef:
    args: GetObjectRequestTypeDef = {"Bucket": upload.bucket, "Key": upload.key}
    if upload.version_id:
        args["VersionId"] = upload.version_id
    return args


def _where(upload: UploadRef) -> dict[str, Any]:
    return {"bucket": upload.bucket, "key": upload.key, "version_id": upload.version_id}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
