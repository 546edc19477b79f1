"""'virus-scan-result': act on a GuardDuty Malware Protection for S3 scan result.

The payload is the whole EventBridge event. By status:

* ``THREATS_FOUND``: mark the upload ``infected``. The version stays where it is: with
  malware protection on, the bucket policy denies reading any ``uploads/`` object whose
  ``GuardDutyMalwareScanStatus`` tag is not ``NO_THREATS_FOUND`` to every principal but
  GuardDuty's ("Using tag-based access control (TBAC) with Malware Protection for S3").
  A move would need a task role that can read infected bytes, and in the ECS
  topologies that role also runs the bulk loader, so no task role can;
* ``NO_THREATS_FOUND``: mark it ``clean`` and, for a property CSV, enqueue
  'property-bulk-upload';
* ``UNSUPPORTED``, ``ACCESS_DENIED``, ``FAILED``: mark it ``needs-attention`` and log a
  WARNING.

Before any effect the handler checks, in order:

* the bucket is ``ASYNC_TASKS_BUCKET`` (else dead-lettered: the rule or plan is too wide);
* the key is under ``uploads/``, the only prefix the malware protection plan scans; a
  result for any other key is ignored with a WARNING (success, no effect, no retry);
* the verdict is GuardDuty's: the version's ``GuardDutyMalwareScanStatus`` tag equals the
  event's status (``_scan_verdict``). A different tag dead-letters the message (forged or
  stale); no tag yet retries it. A version that no longer exists is left alone.

Every effect is keyed by bucket + key + version, not by the event, so a redelivery
(or a second event for the same version) changes nothing: the status writes are the
same, and the load is enqueued once
(its envelope id is kept on the upload item) under an idempotency key derived from
the version, so even a re-send after a crash runs it once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runtime.context import TaskContext
from runtime.contract.storage import UPLOADS_PREFIX, is_property_upload
from runtime.errors import PermanentTaskError
from runtime.log import logger
from runtime.tasks.data import bucket_from_env, table_from_env
from runtime.tasks.scans.events import ScanResult, ScanStatus, parse_scan_event
from runtime.tasks.scans.verdict import Verdict, confirm_verdict
from runtime.tasks.uploads.chunks import TASK as BULK_UPLOAD_TASK
from runtime.tasks.uploads.chunks import chunk_idempotency_key, task_payload
from runtime.tasks.uploads.model import UploadStatus, put_upload_status

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_s3.client import S3Client

__all__ = ["ScanServices", "handle", "process_scan_result", "validate_payload"]

Enqueue = Callable[..., str]
# Statuses a scan verdict may replace. Once loading has begun (processing and after),
# a late or repeated "clean" must not move the upload backwards or load it again.
_BEFORE_LOADING = (
    None,
    UploadStatus.SCANNING,
    UploadStatus.CLEAN,
    UploadStatus.NEEDS_ATTENTION,
)
# Set on the upload item once the load is enqueued, so a redelivery does not re-send.
ENQUEUED_ATTRIBUTE = "bulk_upload_envelope_id"


@dataclass(frozen=True, kw_only=True)
class ScanServices:
    """What the handler talks to; tests inject their own."""

    s3: S3Client
    table: Table
    enqueue: Enqueue
    bucket: str


def validate_payload(payload: Mapping[str, Any]) -> None:
    parse_scan_event(payload)


def handle(payload: Mapping[str, Any], context: TaskContext) -> None:
    from runtime.aws_clients import client
    from runtime.producer import enqueue

    services = ScanServices(
        s3=client("s3"), table=table_from_env(), enqueue=enqueue, bucket=bucket_from_env()
    )
    process_scan_result(parse_scan_event(payload), services)


def process_scan_result(result: ScanResult, services: ScanServices) -> None:
    upload = result.upload
    if upload.bucket != services.bucket:
        # The rule matches every GuardDuty scan in the account; only ours is ours to move.
        raise PermanentTaskError(
            f"scan result for s3://{upload.bucket}/{upload.key}, but this deployment owns "
            f"bucket '{services.bucket}' (ASYNC_TASKS_BUCKET); narrow the EventBridge rule "
            "or the malware protection plan to that bucket"
        )
    if not upload.key.startswith(UPLOADS_PREFIX):
        # The plan scans only uploads/; anything else is not ours to act on, and a
        # retry would not change that.
        logger.warning(
            f"scan result for s3://{upload.bucket}/{upload.key} ignored: outside "
            f"{UPLOADS_PREFIX}, the only prefix the malware protection plan scans",
            extra=_where(result),
        )
        return
    verdict = confirm_verdict(services.s3, upload, str(result.status), event_id=result.event_id)
    if verdict is Verdict.VERSION_GONE:
        logger.warning(
            f"scan result for s3://{upload.bucket}/{upload.key} version "
            f"{upload.version_id or 'null'} ignored: that version no longer exists",
            extra=_where(result),
        )
        return
    _ACTIONS[result.status](result, services)


def _on_threats(result: ScanResult, services: ScanServices) -> None:
    put_upload_status(
        services.table,
        result.upload,
        UploadStatus.INFECTED,
        scan_status=result.status,
        threats=list(result.threats),
    )
    logger.warning(
        "infected upload marked; the bucket policy keeps every task and the web app from "
        "reading it",
        extra={**_where(result), "threats": list(result.threats)},
    )


def _on_clean(result: ScanResult, services: ScanServices) -> None:
    upload = result.upload
    item = put_upload_status(
        services.table,
        upload,
        UploadStatus.CLEAN,
        scan_status=result.status,
        threats=[],
        only_from=_BEFORE_LOADING,
    )
    if item is None:
        logger.info("clean scan result ignored: loading has begun", extra=_where(result))
        return
    if not is_property_upload(upload.key) or item.get(ENQUEUED_ATTRIBUTE):
        return
    envelope_id = services.enqueue(
        BULK_UPLOAD_TASK,
        task_payload(upload),
        idempotency_key=chunk_idempotency_key(upload, 0),
    )
    services.table.update_item(
        Key=upload.item_key,
        UpdateExpression="SET #enqueued = :id",
        ExpressionAttributeNames={"#enqueued": ENQUEUED_ATTRIBUTE},
        ExpressionAttributeValues={":id": envelope_id},
    )
    logger.info(
        "clean property upload queued for loading",
        extra={**_where(result), "envelope_id": envelope_id},
    )


def _on_no_verdict(result: ScanResult, services: ScanServices) -> None:
    put_upload_status(
        services.table,
        result.upload,
        UploadStatus.NEEDS_ATTENTION,
        scan_status=result.status,
        threats=[],
        only_from=_BEFORE_LOADING,
    )
    logger.warning(
        f"GuardDuty gave no verdict ({result.status}) for "
        f"s3://{result.upload.bucket}/{result.upload.key}; the upload needs attention",
        extra=_where(result),
    )


def _where(result: ScanResult) -> dict[str, Any]:
    return {
        "bucket": result.upload.bucket,
        "key": result.upload.key,
        "version_id": result.upload.version_id,
        "scan_status": str(result.status),
        "event_id": result.event_id,
    }


_ACTIONS: Mapping[ScanStatus, Callable[[ScanResult, ScanServices], None]] = {
    ScanStatus.THREATS_FOUND: _on_threats,
    ScanStatus.NO_THREATS_FOUND: _on_clean,
    ScanStatus.UNSUPPORTED: _on_no_verdict,
    ScanStatus.ACCESS_DENIED: _on_no_verdict,
    ScanStatus.FAILED: _on_no_verdict,
}
