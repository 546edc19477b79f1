"""The shared data's schema: the task table's keys, the bucket's layout, the scan tag.

The handlers write these keys; the stacks grant IAM by them (``dynamodb:LeadingKeys``
on the ledger, object ARNs per key prefix) and scope GuardDuty to the uploads prefix;
the bucket policy lets a task read an upload only when GuardDuty's tag says it is clean.
One module, so a grant and the code it permits cannot name different prefixes.

**The task table** (``ASYNC_TASKS_TABLE``): string keys ``pk`` and ``sk``, TTL
attribute ``expires_at``. Every item family, by key::

    idempotency ledger  pk = "idempotency#<task>#<key>"  sk = "ledger"
    upload              pk = "upload#<object key>"       sk = "version#<versionId or 'null'>"
    property            pk = "property#<UPRN>"           sk = "record"
    campaign recipient  pk = "email#<campaign>"          sk = "recipient#<address>"
    campaign chunk      pk = "email#<campaign>"          sk = "chunk#<index>"
    suppressed address  pk = "suppressed#<address>"      sk = "email"
    SES send rate       pk = "ses-rate#<region>"         sk = "token-bucket"

The attributes of each family are documented where they are written: the ledger in
``runtime.idempotency``, uploads and properties in ``runtime.tasks.uploads.model``, the
campaign items in ``runtime.tasks.email.ledger``.

**The bucket** (``ASYNC_TASKS_BUCKET``), by key prefix: ``uploads/`` (scanned by
GuardDuty; property CSVs under ``uploads/properties/``), ``results/`` (one JSON per
processed upload), ``reports/`` and ``recipients/`` (the mailing lists of
send-bulk-email).

Pure: the standard library only.
"""

from __future__ import annotations

import enum
from typing import Final

# --- The task table --------------------------------------------------------------

LEDGER_PK_PREFIX: Final = "idempotency#"
LEDGER_SK: Final = "ledger"
# DynamoDB counts key values in UTF-8 bytes: a partition key value is 1 to 2,048 bytes
# ("Constraints in Amazon DynamoDB", Partition keys and sort keys: partition key
# length). A longer one is refused with a ValidationException on every attempt.
DYNAMODB_PARTITION_KEY_BYTES: Final = 2048
# The envelope's names and keys (task, id, idempotency_key, trace), in UTF-8 bytes:
# the ledger key "idempotency#<task>#<key>" then stays within the partition key limit.
ENVELOPE_TEXT_BYTES: Final = 512
UPLOAD_PK_PREFIX: Final = "upload#"
UPLOAD_SK_PREFIX: Final = "version#"
PROPERTY_PK_PREFIX: Final = "property#"
PROPERTY_SK: Final = "record"
CAMPAIGN_PK_PREFIX: Final = "email#"
RECIPIENT_SK_PREFIX: Final = "recipient#"
CHUNK_SK_PREFIX: Final = "chunk#"
SUPPRESSED_PK_PREFIX: Final = "suppressed#"
SUPPRESSION_SK: Final = "email"
# The account's SES sending rate, shared by every process (runtime.tasks.email.rate).
SES_RATE_PK_PREFIX: Final = "ses-rate#"
SES_RATE_SK: Final = "token-bucket"

# Every partition-key prefix, for checks that no two families share one.
PK_PREFIXES: Final = (
    LEDGER_PK_PREFIX,
    UPLOAD_PK_PREFIX,
    PROPERTY_PK_PREFIX,
    CAMPAIGN_PK_PREFIX,
    SUPPRESSED_PK_PREFIX,
    SES_RATE_PK_PREFIX,
)

# S3 reports the version of an object in an unversioned bucket as the string "null".
NULL_VERSION: Final = "null"


def upload_key_for(bucket_key: str, version_id: str | None) -> dict[str, str]:
    """The table key of an upload item."""
    return {
        "pk": f"{UPLOAD_PK_PREFIX}{bucket_key}",
        "sk": f"{UPLOAD_SK_PREFIX}{version_id or NULL_VERSION}",
    }


def property_key_for(uprn: str) -> dict[str, str]:
    """The table key of a property item."""
    return {"pk": f"{PROPERTY_PK_PREFIX}{uprn}", "sk": PROPERTY_SK}


# --- The bucket --------------------------------------------------------------------

UPLOADS_PREFIX: Final = "uploads/"
PROPERTY_UPLOADS_PREFIX: Final = "uploads/properties/"
RESULTS_PREFIX: Final = "results/"
REPORTS_PREFIX: Final = "reports/"
RECIPIENTS_PREFIX: Final = "recipients/"


def result_key_for(bucket_key: str) -> str:
    """Where the processing result of an upload goes: ``results/<key>.json``."""
    return f"{RESULTS_PREFIX}{bucket_key}.json"


def is_property_upload(bucket_key: str) -> bool:
    """A property CSV: under ``uploads/properties/`` and ending ``.csv``."""
    return bucket_key.startswith(PROPERTY_UPLOADS_PREFIX) and bucket_key.lower().endswith(".csv")


# --- GuardDuty Malware Protection for S3 ----------------------------------------------

# The tag GuardDuty writes on every scanned object when the plan's tagging is on
# ("Monitoring S3 object scans with GuardDuty managed tags").
SCAN_STATUS_TAG: Final = "GuardDutyMalwareScanStatus"


class ScanStatus(enum.StrEnum):
    """``detail.scanResultDetails.scanResultStatus``, and the tag's values
    ("Monitoring S3 object scans in Malware Protection for S3")."""

    NO_THREATS_FOUND = "NO_THREATS_FOUND"
    THREATS_FOUND = "THREATS_FOUND"
    UNSUPPORTED = "UNSUPPORTED"
    ACCESS_DENIED = "ACCESS_DENIED"
    FAILED = "FAILED"
