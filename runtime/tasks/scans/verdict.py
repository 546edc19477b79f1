"""Confirm a scan result from GuardDuty's own tag on the object version before acting on it.

The 'virus-scan-result' message can be forged: whoever may enqueue tasks (the web app)
can send a GuardDuty-shaped event, and a forged ``NO_THREATS_FOUND`` would mark an
infected upload clean and load it. The object's tags cannot be forged in the same way:

* with the plan's tagging action on, GuardDuty tags every scanned object
  ``GuardDutyMalwareScanStatus = <scanResultStatus>`` ("Monitoring S3 object scans with
  GuardDuty managed tags",
  https://docs.aws.amazon.com/guardduty/latest/ug/monitor-enable-s3-object-tagging-malware-protection.html;
  the values are those of "Monitoring S3 object scans in Malware Protection for S3",
  https://docs.aws.amazon.com/guardduty/latest/ug/monitoring-malware-protection-s3-scans-gdu.html);
* the bucket policy (stacks) denies s3:PutObjectTagging, s3:PutObjectVersionTagging,
  s3:DeleteObjectTagging and s3:DeleteObjectVersionTagging to every principal but the
  plan's role, and an upload cannot carry tags, because ``x-amz-tagging`` on PutObject
  needs s3:PutObjectTagging too.

So the handler reads the tags of exactly the version the event names
(GetObjectTagging with VersionId, which needs s3:GetObjectVersionTagging) and acts only
when the tag equals the event's status:

* tag equal: :attr:`Verdict.CONFIRMED`;
* tag present and different: forged, or stale (a later rescan re-tagged the version):
  :class:`ScanResultMismatchError`, permanent, so the DLQ keeps the reason and nothing
  changes;
* tag absent: :class:`ScanTagPendingError`, retried. AWS does not document whether
  GuardDuty writes the tag before or after it publishes the event, so a genuine result
  may arrive first; the retries' backoff gives the tag time. A plan with tagging off, or a
  tag GuardDuty could not write (its role lacks the permission, or the object already has
  10 tags: the "Post Scan Action Failed" event), ends in the DLQ with that reason;
* the version no longer exists: :attr:`Verdict.VERSION_GONE`; the handler ignores it.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from runtime.contract.storage import SCAN_STATUS_TAG
from runtime.errors import PermanentTaskError, TaskRuntimeError
from runtime.tasks.uploads.model import UploadRef

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import GetObjectTaggingRequestTypeDef

__all__ = [
    "SCAN_STATUS_TAG",
    "ScanResultMismatchError",
    "ScanTagPendingError",
    "Verdict",
    "confirm_verdict",
]

# A version that is not there: deleted by version id, or never was.
_GONE = {"NoSuchKey", "NoSuchVersion", "404"}


class Verdict(enum.StrEnum):
    CONFIRMED = "confirmed"
    VERSION_GONE = "version-gone"


class ScanResultMismatchError(PermanentTaskError):
    """The event's status is not the one GuardDuty tagged the version with."""


class ScanTagPendingError(TaskRuntimeError):
    """GuardDuty has not tagged the version (yet): retry later."""


def confirm_verdict(s3: S3Client, upload: UploadRef, status: str, *, event_id: str = "") -> Verdict:
    """Check ``status`` against the version's ``GuardDutyMalwareScanStatus`` tag."""
    arguments: GetObjectTaggingRequestTypeDef = {"Bucket": upload.bucket, "Key": upload.key}
    if upload.version_id:
        arguments["VersionId"] = upload.version_id
    try:
        response = s3.get_object_tagging(**arguments)
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code", "")) in _GONE:
            return Verdict.VERSION_GONE
        raise
    tags = {tag["Key"]: tag["Value"] for tag in response.get("TagSet", [])}
    where = (
        f"s3://{upload.bucket}/{upload.key} version {upload.version_id or 'null'} "
        f"(event {event_id or 'without id'})"
    )
    tagged = tags.get(SCAN_STATUS_TAG)
    if tagged is None:
        raise ScanTagPendingError(
            f"GuardDuty has not tagged {where} with {SCAN_STATUS_TAG} yet; the scan result "
            f"{status} is acted on only once the tag confirms it (is tagging on in the "
            "malware protection plan?)"
        )
    if tagged != status:
        raise ScanResultMismatchError(
            f"scan result for {where} says {status}, but GuardDuty tagged that version "
            f"{SCAN_STATUS_TAG}={tagged}: the event is forged or stale; nothing was changed"
        )
    return Verdict.CONFIRMED
