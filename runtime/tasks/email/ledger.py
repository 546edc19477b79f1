"""Per-recipient ledger of one email campaign, in the shared task table.

Items (TTL ``expires_at``)::

    pk = "email#<campaign>"  sk = "recipient#<normalised address>"
        status = sending | sent | rejected | suppressed | bounced | complained,
        address, reason, message_id, updated_at
        (``email_feedback`` adds soft_bounces, last_soft_bounce, feedback_events)
    pk = "email#<campaign>"  sk = "chunk#<index>"
        envelope_id, recipients: a fan-out chunk that has been enqueued

And, across campaigns and without TTL, the addresses no campaign may mail::

    pk = "suppressed#<normalised address>"  sk = "email"
        address, reason, source_event_id, first_seen, last_seen, feedback_events
        (written by ``email_feedback`` on a hard bounce or a complaint)

**At most once per recipient.** A recipient is claimed (``sending``, a conditional
put) *before* the SES call and settled after it. When SES answers with an error,
nothing was sent and the claim is released, so a retry sends it. When the process
dies, or the call times out, between claim and answer, the claim stays ``sending``
and no retry will mail that recipient: a missed digest costs less than a duplicate,
which annoys the reader and hurts the sender's reputation. Stale ``sending`` items
are visible in the table for an operator.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from runtime.contract.storage import CAMPAIGN_PK_PREFIX as PK_PREFIX
from runtime.contract.storage import (
    CHUNK_SK_PREFIX,
    RECIPIENT_SK_PREFIX,
    SUPPRESSED_PK_PREFIX,
    SUPPRESSION_SK,
)
from runtime.tasks.email.recipients import Recipient

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

__all__ = ["CampaignLedger", "Delivery", "DeliveryStatus", "recipient_key", "suppression_key"]

# Longer than the DLQ's 14 days, so a redriven chunk still finds who was mailed.
RETENTION_SECONDS = 30 * 24 * 3600
_BATCH_GET_KEYS = 100


class DeliveryStatus(enum.StrEnum):
    SENDING = "sending"
    SENT = "sent"
    REJECTED = "rejected"
    # Skipped without sending: the address is on the suppression list.
    SUPPRESSED = "suppressed"
    # Set later, from SES feedback events (email_feedback).
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    # Not stored: SES deferred this destination, so its claim is released.
    RETRY = "retry"


@dataclass(frozen=True)
class Delivery:
    """What happened to one recipient; ``detail`` is the message id or the reason."""

    recipient: Recipient
    status: DeliveryStatus
    detail: str = ""


class CampaignLedger:
    """The recipient and chunk items of one campaign; ``table`` is a boto3 Table resource."""

    def __init__(self, table: Table, campaign: str, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._campaign = campaign
        self._pk = f"{PK_PREFIX}{campaign}"
        self._clock = clock

    def unseen(self, recipients: Sequence[Recipient]) -> list[Recipient]:
        """The recipients with no item yet (not sent, claimed or rejected before)."""
        items = _batch_get(self._table, [self._key(r) for r in recipients], ["sk"])
        seen = {item["sk"] for item in items}
        return [r for r in recipients if self._key(r)["sk"] not in seen]

    def suppressed(self, recipients: Sequence[Recipient]) -> dict[str, str]:
        """Normalised address -> suppression reason, for those on the suppression list."""
        keys = [suppression_key(r.key) for r in recipients]
        items = _batch_get(self._table, keys, ["pk", "reason"])
        return {
            item["pk"].removeprefix(SUPPRESSED_PK_PREFIX): str(item.get("reason", ""))
            for item in items
        }

    def claim(self, recipients: Sequence[Recipient]) -> list[Recipient]:
        """Mark recipients ``sending``, each with a conditional put; returns those claimed.

        One put per recipient rather than a transaction: a recipient claimed meanwhile
        (the same address in two chunks) then fails alone instead of failing the batch.
        """
        claimed: list[Recipient] = []
        for recipient in recipients:
            try:
                self._table.put_item(
                    Item=self._item(Delivery(recipient, DeliveryStatus.SENDING)),
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                continue
            claimed.append(recipient)
        return claimed

    def settle(self, deliveries: Iterable[Delivery]) -> None:
        """Store final statuses (sent, rejected) over the claims."""
        with self._table.batch_writer() as batch:
            for delivery in deliveries:
                batch.put_item(Item=self._item(delivery))

    def release(self, recipients: Iterable[Recipient]) -> None:
        """Drop claims whose send SES refused, so a retry sends them."""
        with self._table.batch_writer() as batch:
            for recipient in recipients:
                batch.delete_item(Key=self._key(recipient))

    def chunk_enqueued(self, index: int) -> bool:
        key = {"pk": self._pk, "sk": f"{CHUNK_SK_PREFIX}{index:05d}"}
        return "Item" in self._table.get_item(Key=key, ConsistentRead=True)

    def mark_chunk(self, index: int, envelope_id: str, size: int) -> None:
        self._table.put_item(
            Item={
                "pk": self._pk,
                "sk": f"{CHUNK_SK_PREFIX}{index:05d}",
                "envelope_id": envelope_id,
                "recipients": size,
                **self._stamps(),
            }
        )

    def _key(self, recipient: Recipient) -> dict[str, str]:
        return recipient_key(self._campaign, recipient.key)

    def _item(self, delivery: Delivery) -> dict[str, Any]:
        item: dict[str, Any] = {
            **self._key(delivery.recipient),
            "address": delivery.recipient.address,
            "status": str(delivery.status),
            **self._stamps(),
        }
        if delivery.detail:
            field = "message_id" if delivery.status is DeliveryStatus.SENT else "reason"
            item[field] = delivery.detail
        return item

    def _stamps(self) -> dict[str, Any]:
        now = self._clock()
        return {
            "updated_at": datetime.fromtimestamp(now, UTC)
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z"),
            "expires_at": int(now) + RETENTION_SECONDS,
        }


def recipient_key(campaign: str, address_key: str) -> dict[str, str]:
    """The table key of one recipient of one campaign (``address_key`` is normalised)."""
    return {"pk": f"{PK_PREFIX}{campaign}", "sk": f"{RECIPIENT_SK_PREFIX}{address_key}"}


def suppression_key(address_key: str) -> dict[str, str]:
    """The table key of a suppressed address (``address_key`` is normalised)."""
    return {"pk": f"{SUPPRESSED_PK_PREFIX}{address_key}", "sk": SUPPRESSION_SK}


def _batch_get(table: Table, keys: Sequence[dict[str, str]], attributes: list[str]) -> list[Any]:
    """The items that exist among ``keys`` (consistent reads), only ``attributes`` of each."""
    client = table.meta.client
    # Placeholders: "reason" and other attribute names may be reserved words.
    names = {f"#a{i}": name for i, name in enumerate(attributes)}
    found: list[Any] = []
    for start in range(0, len(keys), _BATCH_GET_KEYS):
        request: dict[str, Any] = {
            table.name: {
                "Keys": list(keys[start : start + _BATCH_GET_KEYS]),
                "ConsistentRead": True,
                "ProjectionExpression": ", ".join(names),
                "ExpressionAttributeNames": names,
            }
        }
        while request:
            response = client.batch_get_item(RequestItems=request)
            found.extend(response["Responses"].get(table.name, []))
            request = response.get("UnprocessedKeys") or {}
    return found
