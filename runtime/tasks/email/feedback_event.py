"""An SES bounce or complaint, parsed from the EventBridge event SES publishes.

The envelope's payload is the whole event (SES event publishing format)::

    {"id": ..., "time": ..., "source": "aws.ses", "detail-type": "Email Bounced",
     "detail": {"eventType": "Bounce",
                "mail": {"messageId": ..., "destination": [...], "tags": {name: [value]}},
                "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                           "bouncedRecipients": [{"emailAddress": ..., "diagnosticCode": ...}]}}}

A complaint has ``"detail-type": "Email Complaint Received"``, ``"eventType": "Complaint"``
and ``detail.complaint.complainedRecipients``.

Sources: the detail-types are listed in "Monitoring SES events using Amazon EventBridge"
(https://docs.aws.amazon.com/ses/latest/dg/monitoring-eventbridge.html); ``detail`` is SES's
event record, whose fields are described in "Contents of event data that Amazon SES
publishes to Amazon SNS" (https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html)
with examples in "Examples of event data that Amazon SES publishes to Amazon SNS"
(https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-examples.html).
Those examples are kept as fixtures (tests/events/aws_ses_*_example.json, see
tests/events/SOURCES.md).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any, NoReturn

from runtime.errors import PayloadValidationError
from runtime.tasks.email.recipients import Recipient
from runtime.tasks.email.ses import campaign_from_tags

__all__ = ["Feedback", "FeedbackKind", "FeedbackRecipient", "parse_feedback"]

TASK = "email-feedback"


class FeedbackKind(enum.StrEnum):
    # Permanent, and Undetermined too: SES itself will not retry either.
    HARD_BOUNCE = "hard-bounce"
    SOFT_BOUNCE = "soft-bounce"
    COMPLAINT = "complaint"


@dataclass(frozen=True)
class FeedbackRecipient:
    address: str  # normalised, as the ledger keys it
    reason: str


@dataclass(frozen=True, kw_only=True)
class Feedback:
    event_id: str
    seen_at: str  # the event's time, so a replay writes the same values
    kind: FeedbackKind
    campaign: str | None  # None: untagged mail (not ours) or tags mangled
    message_id: str
    recipients: tuple[FeedbackRecipient, ...]


@dataclass(frozen=True)
class _EventType:
    detail_type: str
    section: str
    recipients_field: str


_EVENT_TYPES = {
    "Bounce": _EventType("Email Bounced", "bounce", "bouncedRecipients"),
    "Complaint": _EventType("Email Complaint Received", "complaint", "complainedRecipients"),
}
_BOUNCE_KINDS = {
    "Permanent": FeedbackKind.HARD_BOUNCE,
    "Undetermined": FeedbackKind.HARD_BOUNCE,
    "Transient": FeedbackKind.SOFT_BOUNCE,
}


def parse_feedback(event: Mapping[str, Any]) -> Feedback:
    """The feedback in ``event``; raises PayloadValidationError for anything else."""
    if event.get("source") != "aws.ses":
        _invalid(f"not an SES event (source {event.get('source')!r:.80})")
    detail = _mapping(event, "detail")
    event_type = _EVENT_TYPES.get(detail.get("eventType", ""))
    if event_type is None:
        _invalid(
            f"detail.eventType {detail.get('eventType')!r:.80}; "
            f"expected one of {sorted(_EVENT_TYPES)}"
        )
    if event.get("detail-type") != event_type.detail_type:
        _invalid(
            f"detail-type {event.get('detail-type')!r:.80} does not match "
            f"eventType {detail['eventType']!r} (expected {event_type.detail_type!r})"
        )
    mail = _mapping(detail, "mail")
    section = _mapping(detail, event_type.section)
    entries = section.get(event_type.recipients_field)
    if not isinstance(entries, list) or not entries:
        _invalid(
            f"detail.{event_type.section}.{event_type.recipients_field} must be a non-empty list"
        )
    if event_type.section == "bounce":
        bounce_type = section.get("bounceType")
        if bounce_type not in _BOUNCE_KINDS:
            _invalid(f"bounceType {bounce_type!r:.80}; expected one of {sorted(_BOUNCE_KINDS)}")
        kind = _BOUNCE_KINDS[bounce_type]
        summary = f"{bounce_type}/{section.get('bounceSubType') or 'Unspecified'}"
    else:
        kind = FeedbackKind.COMPLAINT
        summary = f"Complaint/{section.get('complaintFeedbackType') or 'unspecified'}"
    tags = mail.get("tags")
    return Feedback(
        event_id=_text(event, "id"),
        seen_at=_text(event, "time"),
        kind=kind,
        campaign=campaign_from_tags(tags) if isinstance(tags, Mapping) else None,
        message_id=_text(mail, "messageId"),
        recipients=_recipients(entries, summary),
    )


def _recipients(entries: list[Any], summary: str) -> tuple[FeedbackRecipient, ...]:
    found: dict[str, FeedbackRecipient] = {}
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("emailAddress"), str):
            _invalid(
                f"a recipient must be an object with a string 'emailAddress', got {entry!r:.80}"
            )
        raw = entry["emailAddress"].strip()
        # Reporting MTAs sometimes send "Name <address>".
        address = Recipient(parseaddr(raw)[1] or raw).key
        if not address:
            _invalid("a recipient's 'emailAddress' is empty")
        diagnostic = entry.get("diagnosticCode")
        reason = f"{summary}: {diagnostic}" if diagnostic else summary
        found.setdefault(address, FeedbackRecipient(address, reason))
    return tuple(found.values())


def _mapping(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = parent.get(key)
    if not isinstance(value, Mapping):
        _invalid(f"'{key}' must be an object")
    return value


def _text(parent: Mapping[str, Any], key: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str) or not value:
        _invalid(f"'{key}' must be a non-empty string")
    return value


def _invalid(problem: str) -> NoReturn:
    raise PayloadValidationError(f"{TASK}: {problem}")
