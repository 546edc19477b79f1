"""Apply one SES feedback event to the task table, exactly once per event.

- hard bounce: the campaign's recipient item becomes ``bounced``; the address is
  suppressed.
- complaint: the recipient item becomes ``complained``; the address is suppressed.
- soft bounce: the recipient item counts it (``soft_bounces``, ``last_soft_bounce``);
  nothing is suppressed, since the mailbox may accept the next campaign.

**Only feedback on mail we sent.** The message can be forged (anyone allowed to enqueue
tasks can send an SES-shaped event), and a forged bounce would suppress a real address.
So a recipient is acted on only when the campaign's ledger (the event's ``campaign``
tags) shows that campaign sent that address the very message the event names: the
recipient item's ``message_id`` (SES's id, stored by 'send-bulk-email') equals
``mail.messageId``. SES message ids are not guessable from outside, so a forger
cannot name one. Anything else (no campaign tag, no ledger item, past the ledger's
30-day retention, another message id) is logged at WARNING and left alone: no
suppression, no ledger change, and the task succeeds, since a retry cannot make it ours.

Every write is one conditional ``UpdateItem`` that also adds the event id to the
item's ``feedback_events`` set and refuses an id already there. A redelivered event
(EventBridge and SQS deliver at least once) therefore changes nothing and counts
nothing twice, even after other events for the same address. Recipient items are
only updated, never created.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from runtime.log import logger
from runtime.tasks.email.feedback_event import Feedback, FeedbackKind, FeedbackRecipient
from runtime.tasks.email.ledger import DeliveryStatus, recipient_key, suppression_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

__all__ = ["record_feedback"]

EVENTS_ATTRIBUTE = "feedback_events"
_LEDGER_STATUS = {
    FeedbackKind.HARD_BOUNCE: DeliveryStatus.BOUNCED,
    FeedbackKind.COMPLAINT: DeliveryStatus.COMPLAINED,
}


def record_feedback(table: Table, feedback: Feedback) -> Counter[str]:
    """Write ``feedback``; returns counts of the writes applied and skipped."""
    counts: Counter[str] = Counter()
    for recipient in feedback.recipients:
        problem = _not_ours(table, feedback, recipient)
        campaign = feedback.campaign
        if problem is not None or campaign is None:  # _not_ours refuses untagged mail
            logger.warning(
                f"email feedback for {recipient.address} ignored: {problem}; nothing suppressed",
                extra={
                    "event_id": feedback.event_id,
                    "kind": str(feedback.kind),
                    "campaign": feedback.campaign,
                    "message_id": feedback.message_id,
                    "address": recipient.address,
                },
            )
            counts["ignored_unverified"] += 1
            continue
        applied = _update_once(
            table,
            recipient_key(campaign, recipient.address),
            feedback.event_id,
            must_exist=True,
            **_ledger_change(feedback, recipient),
        )
        counts["ledger_updated" if applied else "ledger_unchanged"] += 1
        if feedback.kind in _LEDGER_STATUS:
            applied = _update_once(
                table,
                suppression_key(recipient.address),
                feedback.event_id,
                values={
                    "address": recipient.address,
                    "reason": recipient.reason,
                    "source_event_id": feedback.event_id,
                    "last_seen": feedback.seen_at,
                },
                first_values={"first_seen": feedback.seen_at},
            )
            counts["suppressed" if applied else "already_recorded"] += 1
    return counts


def _not_ours(table: Table, feedback: Feedback, recipient: FeedbackRecipient) -> str | None:
    """Why this recipient's feedback cannot be tied to a message we sent, or None."""
    if feedback.campaign is None:
        return "the message has no campaign tag, so it was not sent by 'send-bulk-email'"
    item = table.get_item(
        Key=recipient_key(feedback.campaign, recipient.address),
        ConsistentRead=True,
        ProjectionExpression="message_id",
    ).get("Item")
    if item is None:
        return (
            f"campaign {feedback.campaign!r} has no ledger entry for this address "
            "(never sent, or past the ledger's retention)"
        )
    if item.get("message_id") != feedback.message_id:
        return (
            f"campaign {feedback.campaign!r} sent this address message "
            f"{item.get('message_id') or '(none)'!s}, not {feedback.message_id}"
        )
    return None


def _ledger_change(feedback: Feedback, recipient: FeedbackRecipient) -> dict[str, Any]:
    status = _LEDGER_STATUS.get(feedback.kind)
    if status is None:
        return {
            "values": {
                "last_soft_bounce": recipient.reason,
                "last_soft_bounce_at": feedback.seen_at,
            },
            "counters": {"soft_bounces": 1},
        }
    return {
        "values": {
            "status": str(status),
            "reason": recipient.reason,
            "updated_at": feedback.seen_at,
        }
    }


def _update_once(
    table: Table,
    key: Mapping[str, str],
    event_id: str,
    *,
    values: Mapping[str, Any],
    first_values: Mapping[str, Any] | None = None,
    counters: Mapping[str, int] | None = None,
    must_exist: bool = False,
) -> bool:
    """One UpdateItem guarded by the event id; False when the condition refused it."""
    names: dict[str, str] = {"#events": EVENTS_ATTRIBUTE}
    attribute_values: dict[str, Any] = {":event": event_id, ":event_set": {event_id}}
    sets: list[str] = []
    adds = ["#events :event_set"]

    def placeholders(name: str, value: Any) -> tuple[str, str]:
        index = len(names)
        names[f"#a{index}"] = name
        attribute_values[f":v{index}"] = value
        return f"#a{index}", f":v{index}"

    for name, value in values.items():
        sets.append("{} = {}".format(*placeholders(name, value)))
    for name, value in (first_values or {}).items():
        placeholder, value_placeholder = placeholders(name, value)
        sets.append(f"{placeholder} = if_not_exists({placeholder}, {value_placeholder})")
    for name, value in (counters or {}).items():
        adds.append("{} {}".format(*placeholders(name, value)))
    condition = "NOT contains(#events, :event)"
    if must_exist:
        condition = f"attribute_exists(pk) AND {condition}"
    try:
        table.update_item(
            Key=dict(key),
            UpdateExpression=f"SET {', '.join(sets)} ADD {', '.join(adds)}",
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=attribute_values,
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True
