"""Recipients of 'send-bulk-email': address checks, the S3 list reader and chunking.

A list is ``recipients/<name>.csv`` in the task bucket with an ``email`` column; every
other column becomes template data for that recipient. It is read as a stream, so a
list of any length costs memory for one chunk only.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from runtime.contract.storage import RECIPIENTS_PREFIX
from runtime.errors import PayloadValidationError, PermanentTaskError

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

__all__ = [
    "RECIPIENTS_PREFIX",
    "Recipient",
    "chunked",
    "is_valid_address",
    "list_key_for",
    "read_list",
    "recipient_from",
]

EMAIL_COLUMN = "email"
# RFC 5321's limit on a forward path; SES refuses longer addresses.
_MAX_ADDRESS_LENGTH = 254
# The ASCII subset SES v1 accepts: dot-atom local part, LDH domain labels, a dot in the domain.
_ADDRESS = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


@dataclass(frozen=True)
class Recipient:
    """One destination: the address as given (trimmed) and its template data."""

    address: str
    data: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The normalised address the ledger is keyed on (case folded)."""
        return self.address.lower()

    def to_payload(self) -> dict[str, str]:
        """The wire form inside a chunk payload: the CSV row again."""
        return {EMAIL_COLUMN: self.address, **self.data}


def is_valid_address(address: str) -> bool:
    return len(address) <= _MAX_ADDRESS_LENGTH and _ADDRESS.match(address) is not None


def recipient_from(entry: object) -> Recipient:
    """A recipient from a payload entry: an address, or an object with ``email`` and data."""
    if isinstance(entry, str):
        return Recipient(entry.strip())
    if isinstance(entry, Mapping) and isinstance(entry.get(EMAIL_COLUMN), str):
        data = {str(k): _text(v) for k, v in entry.items() if k != EMAIL_COLUMN}
        return Recipient(str(entry[EMAIL_COLUMN]).strip(), data)
    raise PayloadValidationError(
        f"send-bulk-email: a recipient must be an address or an object with a string "
        f"'{EMAIL_COLUMN}', got {entry!r:.80}"
    )


def list_key_for(name: str) -> str:
    return f"{RECIPIENTS_PREFIX}{name}.csv"


def read_list(s3: S3Client, bucket: str, name: str) -> Iterator[Recipient]:
    """Stream the rows of a recipient list; rows with an empty address are skipped."""
    key = list_key_for(name)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
            raise PermanentTaskError(
                f"send-bulk-email: recipient list '{name}' not found at s3://{bucket}/{key}"
            ) from error
        raise
    # utf-8-sig: lists exported from spreadsheets often start with a byte-order mark.
    lines = codecs.getreader("utf-8-sig")(body)
    reader = csv.DictReader(lines)
    if reader.fieldnames is None or EMAIL_COLUMN not in reader.fieldnames:
        raise PermanentTaskError(
            f"send-bulk-email: s3://{bucket}/{key} has no '{EMAIL_COLUMN}' column "
            f"(columns: {reader.fieldnames})"
        )
    for row in reader:
        address = (row.pop(EMAIL_COLUMN) or "").strip()
        if address:
            yield Recipient(address, {k: v or "" for k, v in row.items() if k is not None})


def chunked(
    recipients: Iterable[Recipient], size: int, max_bytes: int
) -> Iterator[list[Recipient]]:
    """Groups of at most ``size`` recipients whose payload form stays under ``max_bytes``."""
    chunk: list[Recipient] = []
    used = 0
    for recipient in recipients:
        cost = len(json.dumps(recipient.to_payload()).encode("utf-8")) + 2
        if chunk and (len(chunk) >= size or used + cost > max_bytes):
            yield chunk
            chunk, used = [], 0
        chunk.append(recipient)
        used += cost
    if chunk:
        yield chunk


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
