"""The task data model shared by the handlers: the task table, the bucket and their items.

Environment: ``ASYNC_TASKS_TABLE`` (``pk``/``sk`` strings, TTL ``expires_at``) and
``ASYNC_TASKS_BUCKET``. Bucket layout: ``uploads/`` (property CSVs under
``uploads/properties/``), ``results/`` (one JSON per processed upload) and
``reports/``.

Items::

    upload:   pk = "upload#<object key>"   sk = "version#<versionId or 'null'>"
              status, scan_status, threats, bucket, key, version_id, updated_at,
              and after processing rows_total, rows_loaded, rows_rejected,
              result_key, processed_at
    property: pk = "property#<UPRN>"       sk = "record"
              uprn, address_lines, town, postcode, postcode_area, property_type,
              floor_area_sqm (Decimal, optional), build_year (int, optional),
              upload_key, updated_at

The functions take a boto3 DynamoDB ``Table`` resource (``table_from_env`` makes one),
so tests and callers inject their own; nothing here holds state between calls.
"""

from __future__ import annotations

import enum
import hashlib
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from runtime.errors import ConfigurationError
from runtime.idempotency import TABLE_ENV

__all__ = [
    "BUCKET_ENV",
    "NULL_VERSION",
    "PROPERTY_TYPES",
    "PROPERTY_UPLOADS_PREFIX",
    "REPORTS_PREFIX",
    "RESULTS_PREFIX",
    "TABLE_ENV",
    "UPLOADS_PREFIX",
    "PropertyRecord",
    "UploadRef",
    "UploadStatus",
    "bucket_from_env",
    "get_upload",
    "is_property_upload",
    "normalise_postcode",
    "postcode_area",
    "property_item",
    "property_key_for",
    "put_upload_status",
    "result_key_for",
    "table_from_env",
    "table_name_from_env",
    "upload_digest",
    "upload_key_for",
    "utc_now",
]

BUCKET_ENV = "ASYNC_TASKS_BUCKET"

UPLOADS_PREFIX = "uploads/"
PROPERTY_UPLOADS_PREFIX = "uploads/properties/"
RESULTS_PREFIX = "results/"
REPORTS_PREFIX = "reports/"

UPLOAD_PK_PREFIX = "upload#"
UPLOAD_SK_PREFIX = "version#"
PROPERTY_PK_PREFIX = "property#"
PROPERTY_SK = "record"
# S3 reports the version of an object in an unversioned bucket as the string "null".
NULL_VERSION = "null"

PROPERTY_TYPES = ("detached", "semi-detached", "terraced", "flat", "bungalow", "other")

# UK postcodes (outward code, one space, inward code), plus the Girobank special case.
_POSTCODE = re.compile(
    r"^(?:GIR ?0AA|(?:[A-PR-UWYZ][0-9][0-9A-HJKPSTUW]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9ABEHMNPRVWXY]?)"
    r" ?[0-9][ABD-HJLNP-UW-Z]{2})$"
)


class UploadStatus(enum.StrEnum):
    """An upload's life: scanned, then (property CSVs) processed."""

    SCANNING = "scanning"
    CLEAN = "clean"
    INFECTED = "infected"
    NEEDS_ATTENTION = "needs-attention"
    PROCESSING = "processing"
    PROCESSED = "processed"
    FAILED = "failed"


@dataclass(frozen=True)
class UploadRef:
    """One version of one uploaded object."""

    bucket: str
    key: str
    version_id: str | None = None

    @property
    def item_key(self) -> dict[str, str]:
        return upload_key_for(self.key, self.version_id)


@dataclass(frozen=True, kw_only=True)
class PropertyRecord:
    """A validated property row; ``postcode`` is already normalised."""

    uprn: str
    address_lines: tuple[str, ...]
    town: str
    postcode: str
    property_type: str
    floor_area_sqm: Decimal | None = None
    build_year: int | None = None


def upload_digest(upload: UploadRef) -> str:
    """A short stable id of one object version (idempotency keys; S3 keys can be 1 KiB)."""
    identity = f"{upload.bucket}/{upload.key}@{upload.version_id or NULL_VERSION}"
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


def utc_now() -> str:
    """The current UTC time as ISO-8601 with a ``Z``, the format of every ``*_at``."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def upload_key_for(bucket_key: str, version_id: str | None) -> dict[str, str]:
    """The table key of an upload item."""
    return {
        "pk": f"{UPLOAD_PK_PREFIX}{bucket_key}",
        "sk": f"{UPLOAD_SK_PREFIX}{version_id or NULL_VERSION}",
    }


def property_key_for(uprn: str) -> dict[str, str]:
    """The table key of a property item."""
    return {"pk": f"{PROPERTY_PK_PREFIX}{uprn}", "sk": PROPERTY_SK}


def result_key_for(bucket_key: str) -> str:
    """Where the processing result of an upload goes: ``results/<key>.json``."""
    return f"{RESULTS_PREFIX}{bucket_key}.json"


def is_property_upload(bucket_key: str) -> bool:
    """A property CSV: under ``uploads/properties/`` and ending ``.csv``."""
    return bucket_key.startswith(PROPERTY_UPLOADS_PREFIX) and bucket_key.lower().endswith(".csv")


def normalise_postcode(raw: str) -> str | None:
    """Upper case with exactly one space before the inward code; None if not a UK postcode."""
    compact = "".join(raw.split()).upper()
    if not 5 <= len(compact) <= 7 or not _POSTCODE.match(compact):
        return None
    return f"{compact[:-3]} {compact[-3:]}"


def postcode_area(postcode: str) -> str:
    """The leading letters of a postcode: ``SW`` for ``SW1A 1AA``."""
    letters = re.match(r"[A-Z]+", postcode)
    return letters.group(0) if letters else ""


def property_item(record: PropertyRecord, *, upload_key: str, updated_at: str) -> dict[str, Any]:
    """A property item for the resource API (Decimal numbers, lists, optional fields omitted)."""
    item: dict[str, Any] = {
        **property_key_for(record.uprn),
        "uprn": record.uprn,
        "address_lines": list(record.address_lines),
        "town": record.town,
        "postcode": record.postcode,
        "postcode_area": postcode_area(record.postcode),
        "property_type": record.property_type,
        "upload_key": upload_key,
        "updated_at": updated_at,
    }
    if record.floor_area_sqm is not None:
        item["floor_area_sqm"] = record.floor_area_sqm
    if record.build_year is not None:
        item["build_year"] = record.build_year
    return item


def put_upload_status(
    table: Any,
    upload: UploadRef,
    status: UploadStatus,
    *,
    scan_status: str | None = None,
    threats: list[str] | None = None,
    fields: Mapping[str, Any] | None = None,
    only_from: Collection[UploadStatus | None] | None = None,
    now: str | None = None,
) -> dict[str, Any] | None:
    """Set an upload's status (creating the item if needed), keeping its other attributes.

    ``fields`` sets further attributes, e.g. the processing counts or ``reason``.
    ``only_from`` applies the change only if the current status is one of these (None:
    no item yet), so a late or repeated event cannot move an upload backwards. Returns
    the item as written, or None when ``only_from`` refused the change.
    """
    values: dict[str, Any] = {
        "status": str(status),
        "bucket": upload.bucket,
        "key": upload.key,
        "version_id": upload.version_id or NULL_VERSION,
        "updated_at": now or utc_now(),
    }
    if scan_status is not None:
        values["scan_status"] = scan_status
    if threats is not None:
        values["threats"] = list(threats)
    values.update(fields or {})
    # Placeholders for every name: "status", "key" and others are reserved words.
    names = {f"#a{i}": name for i, name in enumerate(values)}
    attribute_values = {f":v{i}": value for i, value in enumerate(values.values())}
    condition: dict[str, Any] = {}
    if only_from is not None:
        allowed = [status for status in only_from if status is not None]
        # "#a0" is "status": it is the first key of ``values``.
        clauses = [f"#a0 = :from{i}" for i in range(len(allowed))]
        if None in only_from:
            clauses.append("attribute_not_exists(#a0)")
        attribute_values.update({f":from{i}": str(s) for i, s in enumerate(allowed)})
        condition["ConditionExpression"] = " OR ".join(clauses) or "attribute_not_exists(pk)"
    try:
        response = table.update_item(
            Key=upload.item_key,
            UpdateExpression="SET " + ", ".join(f"{n} = :v{n[2:]}" for n in names),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=attribute_values,
            ReturnValues="ALL_NEW",
            **condition,
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        return None
    return dict(response["Attributes"])


def get_upload(table: Any, upload: UploadRef) -> dict[str, Any] | None:
    """The upload item (strongly consistent), or None."""
    item = table.get_item(Key=upload.item_key, ConsistentRead=True).get("Item")
    return None if item is None else dict(item)


def table_name_from_env(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return _required(env, TABLE_ENV, "the task table's name")


def bucket_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The task bucket's name from ``ASYNC_TASKS_BUCKET``."""
    env = os.environ if environ is None else environ
    return _required(env, BUCKET_ENV, "the task bucket's name")


def table_from_env(environ: Mapping[str, str] | None = None, *, dynamodb: Any = None) -> Any:
    """The task table as a boto3 ``Table`` resource; ``dynamodb`` is a service resource."""
    name = table_name_from_env(environ)
    if dynamodb is None:
        import boto3

        dynamodb = boto3.resource("dynamodb")
    return dynamodb.Table(name)


def _required(env: Mapping[str, str], name: str, what: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"{name} is not set; set it to {what} (see docs/tasks.md)")
    return value
