"""Move an infected object version to ``quarantine/<original key>`` in the same bucket.

We copy the exact version and then delete *that version*, instead of tagging it and
relying on a deny-read bucket policy:

* the infected bytes leave ``uploads/``, so nothing that lists or reads uploads (the
  bulk loader, the web app, a future consumer with its own grant) can reach them, even
  if a bucket policy is later edited or a reader is granted ``s3:GetObjectVersion``;
* deleting by version id removes the bytes for good; a plain delete in a versioned
  bucket would only add a delete marker and leave the infected version readable;
* ``quarantine/`` can get its own grants (security team only) and lifecycle.

The copy carries no tags (``TaggingDirective="REPLACE"`` with no ``Tagging``): the
CopyObject default, ``COPY``, would copy the source's tags, GuardDuty's
``GuardDutyMalwareScanStatus`` among them, onto the destination, and writing tags is
what the bucket policy refuses to anyone but GuardDuty ("CopyObject",
https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html:
``x-amz-tagging-directive`` defaults to ``COPY``; with ``REPLACE`` the tag-set is the one
given in ``x-amz-tagging``, empty by default). That a tag-copying CopyObject is
authorised as s3:PutObjectTagging on the destination could not be confirmed offline;
with no tags written, no such permission is needed either way. The quarantine copy
therefore has no GuardDuty tag; its ``quarantined-from-version`` metadata records which
version it holds.

The cost is one server-side copy (CopyObject, objects up to 5 GiB: far above any CSV
the web app accepts). Each step is idempotent: the copy records its source version in
the target's metadata and is skipped when already there, and deleting a version that
is gone succeeds, so a redelivery makes no second copy.
"""

from __future__ import annotations

import enum
from typing import Any

from botocore.exceptions import ClientError

from runtime.tasks._records import NULL_VERSION, UploadRef, quarantine_key_for

__all__ = ["QuarantineOutcome", "is_quarantined", "quarantine"]

# S3 user metadata (x-amz-meta-*) on the quarantined copy: where it came from.
SOURCE_KEY_METADATA = "quarantined-from-key"
SOURCE_VERSION_METADATA = "quarantined-from-version"
_GONE = {"NoSuchKey", "NoSuchVersion", "404"}


class QuarantineOutcome(enum.StrEnum):
    MOVED = "moved"
    ALREADY_MOVED = "already-moved"
    SOURCE_GONE = "source-gone"


def quarantine(s3: Any, upload: UploadRef) -> QuarantineOutcome:
    """Copy ``upload``'s version to quarantine, then delete that version."""
    target = quarantine_key_for(upload.key)
    version = upload.version_id or NULL_VERSION
    outcome = QuarantineOutcome.MOVED
    if _copied_already(s3, upload.bucket, target, version):
        outcome = QuarantineOutcome.ALREADY_MOVED
    else:
        source: dict[str, str] = {"Bucket": upload.bucket, "Key": upload.key}
        if upload.version_id:
            source["VersionId"] = upload.version_id
        try:
            s3.copy_object(
                Bucket=upload.bucket,
                Key=target,
                CopySource=source,
                MetadataDirective="REPLACE",
                # No tags on the copy, so no s3:PutObjectTagging is needed (see above).
                TaggingDirective="REPLACE",
                # Never let a browser render the quarantined bytes.
                ContentType="application/octet-stream",
                Metadata={SOURCE_KEY_METADATA: upload.key, SOURCE_VERSION_METADATA: version},
            )
        except ClientError as error:
            if _code(error) not in _GONE:
                raise
            return QuarantineOutcome.SOURCE_GONE
    _delete_version(s3, upload)
    return outcome


def is_quarantined(s3: Any, upload: UploadRef) -> bool:
    """Whether ``quarantine/`` holds the copy of exactly ``upload``'s version."""
    return _copied_already(
        s3, upload.bucket, quarantine_key_for(upload.key), upload.version_id or NULL_VERSION
    )


def _copied_already(s3: Any, bucket: str, target: str, version: str) -> bool:
    try:
        head = s3.head_object(Bucket=bucket, Key=target)
    except ClientError as error:
        if _code(error) in _GONE:
            return False
        raise
    return bool(head.get("Metadata", {}).get(SOURCE_VERSION_METADATA) == version)


def _delete_version(s3: Any, upload: UploadRef) -> None:
    arguments = {"Bucket": upload.bucket, "Key": upload.key}
    if upload.version_id:
        arguments["VersionId"] = upload.version_id
    try:
        s3.delete_object(**arguments)
    except ClientError as error:
        if _code(error) not in _GONE:
            raise


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
