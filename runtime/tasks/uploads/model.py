"""The upload model: an upload's versions and status, and the property records it loads.

Keys and prefixes are the schema's (``runtime.contract.storage``). Items::

    upload:   pk = "upload#<object key>"   sk = "version#<versionId or 'null'>"
              status, scan_status, threats, bucket, key, version_id, updated_at,
              and after processing rows_total, rows_loaded, rows_rejected,
              result_key, processed_at
    property: pk = "property#<UPRN>"       sk = "record"
              uprn, address_lines, town, postcode, postcode_area, property_type,
              floor_area_sqm (Decimal, optional), build_year (int, optional),
              upload_key, updated_at

The functions take a boto3 DynamoDB ``Table`` resource (``runtime.tasks.data`` makes
one), so tests and callers inject their own; nothing here holds state between calls.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from runtime.contract.storage import NULL_VERSION, property_key_for, upload_key_for
from runtime.tasks.data import utc_now

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

__all__ = [
    "NOT_SCANNED",
    "PROPERTY_TYPES",
    "PropertyRecord",
    "UploadRef",
    "UploadStatus",
    "get_upload",
    "normalise_postcode",
    "postcode_area",
    "property_item",
    "put_upload_status",
    "upload_digest",
]


# An upload's ``scan_status`` when no scan ran (malware protection off); it outlives the
# status, which moves on to processing and processed.
NOT_SCANNED = "NOT_SCANNED"

PROPERTY_TYPES = ("detached", "semi-detached", "terraced", "flat", "bungalow", "other")

# UK postcodes (outward code, one space, inward code), plus the Girobank special case.
_POSTCODE = re.compile(
    r"^(?:GIR ?0AA|(?:[A-PR-UWYZ][0-9][0-9A-HJKPSTUW]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9ABEHMNPRVWXY]?)"
    r" ?[0-9][ABD-HJLNP-UW-Z]{2})$"
)


class UploadStatus(enum.StrEnum):
    """An upload's life: scanned (or, with scanning off, unscanned), then (property
    CSVs) processed."""

    SCANNING = "scanning"
    CLEAN = "clean"
    # Loaded without a malware scan: the deployment has malwareProtection off.
    UNSCANNED = "unscanned"
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
    table: Table,
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


def get_upload(table: Table, upload: UploadRef) -> dict[str, Any] | None:
    """The upload item (strongly consistent), or None."""
    item = table.get_item(Key=upload.item_key, ConsistentRead=True).get("Item")
    return None if item is None else dict(item)
