"""'email-feedback' through the dispatcher, against moto DynamoDB (the real task table)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from runtime.dispatcher import Dispatcher, Outcome
from runtime.tasks.email.ledger import CampaignLedger, Delivery, DeliveryStatus
from runtime.tasks.email.recipients import Recipient
from runtime.tasks.email.ses import campaign_tags
from tests.runtime.helpers import load_event

TASK = "email-feedback"
# The campaign tagged in both samples (and the parent of email_chunk.json).
CAMPAIGN = "5d2f6a8e-91b4-4c3e-8f0a-7b6c2d1e9f34"
# The samples' mail.messageId: SES's id of the message that bounced / was complained of.
BOUNCED_MESSAGE = load_event("ses_bounce.json")["detail"]["mail"]["messageId"]
COMPLAINED_MESSAGE = load_event("ses_complaint.json")["detail"]["mail"]["messageId"]

pytestmark = pytest.mark.usefixtures("task_table")


@pytest.fixture
def ses_event() -> Callable[..., dict[str, Any]]:
    """A sample from tests/events/, with ``id``, the campaign or the feedback section changed."""

    def make(
        name: str,
        *,
        event_id: str | None = None,
        campaign: str | None = CAMPAIGN,
        message_id: str | None = None,
        **section: Any,
    ) -> dict[str, Any]:
        event = copy.deepcopy(load_event(name))
        detail = event["detail"]
        if message_id is not None:
            detail["mail"]["messageId"] = message_id
        detail[detail["eventType"].lower()].update(section)
        tags = detail["mail"]["tags"]
        del tags["campaign"]
        if campaign is not None:
            tags.update({t["Name"]: [t["Value"]] for t in campaign_tags(campaign)})
        if event_id is not None:
            event["id"] = event_id
        return event

    return make


@pytest.fixture
def deliver(
    dispatch: Callable[..., Any], envelope_body: Callable[..., str]
) -> Callable[[dict[str, Any]], Any]:
    """Deliver an event as the EventBridge rule's input transformer wraps it."""

    def run(event: dict[str, Any]) -> Any:
        return dispatch(envelope_body(TASK, event))

    return run


@pytest.fixture
def sent_to(task_table: Any) -> Callable[..., None]:
    """Ledger items as 'send-bulk-email' leaves them: these addresses ``sent`` the message.

    By default the message is the one the bounce sample names: a genuine bounce.
    """

    def settle(
        *addresses: str, campaign: str = CAMPAIGN, message_id: str = BOUNCED_MESSAGE
    ) -> None:
        CampaignLedger(task_table, campaign).settle(
            Delivery(Recipient(a), DeliveryStatus.SENT, message_id) for a in addresses
        )

    return settle


def recipient(table: Any, address: str, campaign: str = CAMPAIGN) -> dict[str, Any] | None:
    key = {"pk": f"email#{campaign}", "sk": f"recipient#{address}"}
    return table.get_item(Key=key, ConsistentRead=True).get("Item")


def suppression(table: Any, address: str) -> dict[str, Any] | None:
    key = {"pk": f"suppressed#{address}", "sk": "email"}
    return table.get_item(Key=key, ConsistentRead=True).get("Item")


def email_items(table: Any) -> list[dict[str, Any]]:
    """Every item but the task ledger's own, in a stable order."""
    items = table.scan(ConsistentRead=True)["Items"]
    return sorted(
        (i for i in items if not i["pk"].startswith("idempotency#")),
        key=lambda i: (i["pk"], i["sk"]),
    )


@pytest.mark.parametrize("bounce_type", ["Permanent", "Undetermined"])
def test_a_hard_bounce_marks_the_recipient_bounced_and_suppresses_the_address(
    task_table: Any, deliver: Any, ses_event: Any, sent_to: Any, bounce_type: str
) -> None:
    sent_to("ada@example.com", "grace@example.com")

    result = deliver(ses_event("ses_bounce.json", bounceType=bounce_type))

    assert result.outcome is Outcome.SUCCEEDED, result.reason
    ada = recipient(task_table, "ada@example.com")
    assert ada is not None
    assert ada["status"] == "bounced"
    assert ada["reason"] == f"{bounce_type}/General: smtp; 550 5.1.1 user unknown"
    assert ada["message_id"] == BOUNCED_MESSAGE  # the send's record is kept
    assert recipient(task_table, "grace@example.com")["status"] == "sent"  # type: ignore[index]
    assert suppression(task_table, "ada@example.com") == {
        "pk": "suppressed#ada@example.com",
        "sk": "email",
        "address": "ada@example.com",
        "reason": f"{bounce_type}/General: smtp; 550 5.1.1 user unknown",
        "source_event_id": "3f9c2b7e-8a41-4d6f-b0c5-2e7d9a1f4c83",
        "first_seen": "2026-11-30T08:01:14Z",
        "last_seen": "2026-11-30T08:01:14Z",
        "feedback_events": {"3f9c2b7e-8a41-4d6f-b0c5-2e7d9a1f4c83"},
    }


def test_a_transient_bounce_is_counted_on_the_ledger_but_not_suppressed(
    task_table: Any, deliver: Any, ses_event: Any, sent_to: Any
) -> None:
    sent_to("ada@example.com")
    full = {"bounceType": "Transient", "bounceSubType": "MailboxFull"}

    for event_id in ("soft-1", "soft-2"):
        result = deliver(ses_event("ses_bounce.json", event_id=event_id, **full))
        assert result.outcome is Outcome.SUCCEEDED, result.reason

    ada = recipient(task_table, "ada@example.com")
    assert ada is not None
    assert ada["status"] == "sent"
    assert ada["soft_bounces"] == 2
    assert ada["last_soft_bounce"] == "Transient/MailboxFull: smtp; 550 5.1.1 user unknown"
    assert suppression(task_table, "ada@example.com") is None


def test_a_complaint_marks_the_recipient_complained_and_suppresses_the_address(
    task_table: Any, deliver: Any, ses_event: Any, sent_to: Any
) -> None:
    sent_to("grace@example.com", message_id=COMPLAINED_MESSAGE)

    result = deliver(ses_event("ses_complaint.json"))

    assert result.outcome is Outcome.SUCCEEDED, result.reason
    grace = recipient(task_table, "grace@example.com")
    assert grace is not None
    assert (grace["status"], grace["reason"]) == ("complained", "Complaint/abuse")
    suppressed = suppression(task_table, "grace@example.com")
    assert suppressed is not None
    assert suppressed["reason"] == "Complaint/abuse"


@pytest.mark.parametrize("campaign", [None, "campaign-we-never-sent"])
def test_a_bounce_of_a_campaign_the_ledger_does_not_hold_suppresses_nothing(
    task_table: Any,
    deliver: Any,
    ses_event: Any,
    sent_to: Any,
    campaign: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN ada was sent that very message, but by our campaign; the event names
    # another campaign, or none (untagged mail: not sent by send-bulk-email)
    sent_to("ada@example.com")
    before = email_items(task_table)

    result = deliver(ses_event("ses_bounce.json", campaign=campaign))

    assert result.outcome is Outcome.SUCCEEDED, result.reason
    assert suppression(task_table, "ada@example.com") is None
    assert email_items(task_table) == before
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "ada@example.com ignored" in warning and "nothing suppressed" in warning


def test_a_forged_bounce_naming_a_real_address_suppresses_nothing(
    task_table: Any,
    deliver: Any,
    ses_event: Any,
    sent_to: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN our campaign really mailed ada (SES message BOUNCED_MESSAGE)
    sent_to("ada@example.com")
    before = email_items(task_table)

    # WHEN a bounce for ada arrives naming the right campaign but a made-up message id
    forged = ses_event(
        "ses_bounce.json", message_id="0102019b7c1e3d41-made-up-by-someone-else-000000"
    )
    result = deliver(forged)

    # THEN the task succeeds, ada is not suppressed, and her ledger item is untouched
    assert result.outcome is Outcome.SUCCEEDED, result.reason
    assert suppression(task_table, "ada@example.com") is None
    assert email_items(task_table) == before
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert BOUNCED_MESSAGE in warning and "made-up-by-someone-else" in warning


def test_only_the_recipients_the_message_was_sent_to_are_suppressed(
    task_table: Any, deliver: Any, ses_event: Any, sent_to: Any
) -> None:
    # GIVEN ada got the bounced message; mallory was mailed a different one
    sent_to("ada@example.com")
    sent_to("mallory@example.com", message_id="0102019b7c1e3d41-another-message-000000")
    bounced = [{"emailAddress": "ada@example.com"}, {"emailAddress": "mallory@example.com"}]

    result = deliver(ses_event("ses_bounce.json", bouncedRecipients=bounced))

    assert result.outcome is Outcome.SUCCEEDED, result.reason
    assert suppression(task_table, "ada@example.com") is not None
    assert suppression(task_table, "mallory@example.com") is None
    assert recipient(task_table, "mallory@example.com")["status"] == "sent"  # type: ignore[index]


def test_a_campaign_id_with_escaped_characters_finds_its_ledger(
    task_table: Any, deliver: Any, ses_event: Any, sent_to: Any
) -> None:
    campaign = "digest/2026.48:weekly_" + "x/" * 95
    sent_to("ada@example.com", campaign=campaign)

    deliver(ses_event("ses_bounce.json", campaign=campaign))

    assert recipient(task_table, "ada@example.com", campaign)["status"] == "bounced"  # type: ignore[index]


def test_the_same_event_twice_changes_nothing(
    task_table: Any, deliver: Any, ses_event: Any, sent_to: Any, envelope_body: Any
) -> None:
    # GIVEN a hard bounce, a soft bounce and a complaint for one address, all applied
    sent_to("ada@example.com")
    events = [
        ses_event("ses_bounce.json", event_id="soft", bounceType="Transient"),
        ses_event("ses_bounce.json"),
        ses_event(
            "ses_complaint.json",
            message_id=BOUNCED_MESSAGE,
            complainedRecipients=[{"emailAddress": "Ada@Example.com"}],
        ),
    ]
    for event in events:
        assert deliver(event).outcome is Outcome.SUCCEEDED
    before = email_items(task_table)

    # WHEN each is delivered again, past the task ledger (a crash before it completed)
    without_ledger = Dispatcher.from_env(idempotency=False)
    for event in events:
        result = without_ledger.dispatch(envelope_body(TASK, event), attempt=2)
        assert result.outcome is Outcome.SUCCEEDED, result.reason

    # THEN no item changed and the soft bounce was counted once
    assert email_items(task_table) == before
    assert recipient(task_table, "ada@example.com")["soft_bounces"] == 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda e: e.update(source="aws.guardduty"), "not an SES event"),
        (lambda e: e["detail"].update(eventType="Delivery"), "detail.eventType 'Delivery'"),
        (
            lambda e: e.update({"detail-type": "Email Complaint Received"}),
            "does not match eventType",
        ),
        (lambda e: e["detail"]["bounce"].update(bounceType="Soft"), "bounceType 'Soft'"),
        (lambda e: e["detail"]["bounce"].update(bouncedRecipients=[]), "non-empty list"),
        (lambda e: e["detail"]["bounce"].update(bouncedRecipients=[{}]), "'emailAddress'"),
        (lambda e: e["detail"].pop("mail"), "'mail' must be an object"),
        (lambda e: e.pop("id"), "'id' must be a non-empty string"),
    ],
)
def test_an_event_that_is_not_an_ses_bounce_or_complaint_is_dead_lettered(
    task_table: Any,
    deliver: Any,
    ses_event: Any,
    change: Callable[[dict[str, Any]], object],
    reason: str,
) -> None:
    event = ses_event("ses_bounce.json")
    change(event)

    result = deliver(event)

    assert result.outcome is Outcome.DEAD_LETTER
    assert "PayloadValidationError" in result.reason
    assert reason in result.reason
    assert email_items(task_table) == []
