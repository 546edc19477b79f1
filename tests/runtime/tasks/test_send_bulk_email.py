"""'send-bulk-email' against moto (S3, SES, SQS and the task table with its real key schema)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from runtime.context import TaskContext
from runtime.dispatcher import Dispatcher, Outcome
from runtime.errors import PayloadValidationError, is_permanent
from runtime.producer import Producer
from runtime.tasks.email import send_bulk_email
from runtime.tasks.email.ledger import CampaignLedger, Delivery, DeliveryStatus
from runtime.tasks.email.recipients import Recipient
from runtime.tasks.email.send_bulk_email import EmailServices, EmailSettings, run
from runtime.tasks.email.ses import EmailDeferredError, campaign_from_tags, campaign_tags
from tests.runtime.helpers import REGION, load_event

SENDER = "digest@example.com"


@pytest.fixture
def ses(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """SES with a verified sender and the weekly-digest template; fast enough not to sleep."""
    client = boto3.client("ses")
    client.verify_email_identity(EmailAddress=SENDER)
    client.create_template(
        Template={"TemplateName": "weekly-digest", "SubjectPart": "Hi {{name}}", "TextPart": "x"}
    )
    monkeypatch.setenv("ASYNC_TASKS_EMAIL_SENDER", SENDER)
    monkeypatch.setenv("ASYNC_TASKS_EMAIL_MAX_PER_SECOND", "100000")
    return client


@pytest.fixture
def email_env(task_table: Any, task_bucket: str, ses: Any) -> Any:
    return task_table


@pytest.fixture
def upload_list(task_bucket: str) -> Callable[[str, Sequence[str]], None]:
    def put(name: str, rows: Sequence[str]) -> None:
        body = "\n".join(["email,name", *rows]) + "\n"
        boto3.client("s3").put_object(Bucket=task_bucket, Key=f"recipients/{name}.csv", Body=body)

    return put


class SentCounter:
    """SES's own count of recipients mailed since this counter was made."""

    def __init__(self, ses: Any) -> None:
        self._ses = ses
        self._start = self._now()

    def _now(self) -> int:
        return int(self._ses.get_send_quota()["SentLast24Hours"])

    @property
    def sent(self) -> int:
        return self._now() - self._start


def _envelope(payload: dict[str, Any], **fields: Any) -> str:
    base = load_event("email_weekly_digest.json")
    return json.dumps({**base, "id": str(uuid.uuid4()), "payload": payload, **fields})


def _recipient_items(table: Any, campaign: str) -> dict[str, dict[str, Any]]:
    condition = Key("pk").eq(f"email#{campaign}") & Key("sk").begins_with("recipient#")
    items = table.query(KeyConditionExpression=condition)["Items"]
    return {item["sk"].removeprefix("recipient#"): item for item in items}


def _context(campaign: str) -> TaskContext:
    return TaskContext(
        task="send-bulk-email",
        envelope_id=campaign,
        idempotency_key=campaign,
        attempt=1,
        created_at="2026-11-30T08:00:00Z",
        trace=None,
        _completion=lambda: None,
    )


def _services(table: Any, ses: Any, **overrides: Any) -> EmailServices:
    values: dict[str, Any] = {
        "ses": ses,
        "s3": boto3.client("s3"),
        "table": table,
        "producer": Producer(),
        **overrides,
    }
    return EmailServices(**values)


def _client_error(code: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "SendBulkTemplatedEmail")


class ScriptedSes:
    """Answers SendBulkTemplatedEmail from ``answer(addresses)``: a status list or an error."""

    def __init__(self, answer: Callable[[list[str]], list[dict[str, str]]]) -> None:
        self._answer = answer
        self.calls: list[list[str]] = []
        self.requests: list[dict[str, Any]] = []

    # A production account's quota and region, for the shared rate.
    meta = SimpleNamespace(region_name=REGION)

    def get_send_quota(self) -> dict[str, float]:
        return {"MaxSendRate": 14.0, "Max24HourSend": 50_000.0, "SentLast24Hours": 0.0}

    def send_bulk_templated_email(self, **request: Any) -> dict[str, Any]:
        addresses = [d["Destination"]["ToAddresses"][0] for d in request["Destinations"]]
        self.calls.append(addresses)
        self.requests.append(request)
        return {"Status": self._answer(addresses)}


def _success(addresses: list[str]) -> list[dict[str, str]]:
    return [{"Status": "Success", "MessageId": f"m-{a}"} for a in addresses]


def test_list_task_mails_each_valid_address_once_and_rejects_bad_ones(
    email_env: Any, dispatch: Any, ses: Any, upload_list: Any
) -> None:
    # GIVEN a list with a duplicate (in another case) and a syntactically invalid address
    upload_list(
        "subscribers",
        [
            "ada@example.com,Ada",
            "ADA@example.com,Ada",
            "bob@example.org,Bob",
            "not-an-address,X",
            "cy@example.net,Cy",
        ],
    )
    counter = SentCounter(ses)
    body = _envelope({"template": "weekly-digest", "recipients_list": "subscribers"})

    result = dispatch(body, attempt=1)

    assert result.outcome is Outcome.SUCCEEDED, result.reason
    assert counter.sent == 3
    items = _recipient_items(email_env, json.loads(body)["id"])
    assert {k: v["status"] for k, v in items.items()} == {
        "ada@example.com": "sent",
        "bob@example.org": "sent",
        "cy@example.net": "sent",
        "not-an-address": "rejected",
    }
    assert items["not-an-address"]["reason"] == "invalid address syntax"


def test_a_second_delivery_mails_nobody_again(
    email_env: Any, dispatch: Any, ses: Any, upload_list: Any
) -> None:
    upload_list("subscribers", ["ada@example.com,Ada", "bob@example.org,Bob"])
    body = _envelope({"template": "weekly-digest", "recipients_list": "subscribers"})
    assert dispatch(body, attempt=1).outcome is Outcome.SUCCEEDED
    counter = SentCounter(ses)

    # The redelivered message is a ledger duplicate; and even without the task ledger
    # (a crash before it completed), the recipient ledger stops a second email.
    assert dispatch(body, attempt=2).outcome is Outcome.DUPLICATE
    without_ledger = Dispatcher.from_env(idempotency=False).dispatch(body, attempt=2)

    assert without_ledger.outcome is Outcome.SUCCEEDED
    assert counter.sent == 0


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"recipients_list": "subscribers"}, "'template' must be"),
        ({"template": "weekly digest", "recipients_list": "s"}, "'template' must be"),
        ({"template": "t"}, "exactly one of"),
        ({"template": "t", "recipients_list": "a", "recipients": ["x@y.z"]}, "exactly one of"),
        ({"template": "t", "recipients_list": "../secrets"}, "'recipients_list' must be"),
        ({"template": "t", "recipients": []}, "non-empty list"),
        ({"template": "t", "recipients": [{"name": "no email"}]}, "a recipient must be"),
        ({"template": "t", "recipients": ["a@b.co"], "subject": "x"}, "unknown keys"),
        ({"template": "t", "recipients": ["a@b.co"], "template_data": [1]}, "must be an object"),
    ],
)
def test_rejects_a_bad_payload_with_the_reason(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(PayloadValidationError, match=message):
        send_bulk_email.validate_payload(payload)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"template": "weekly-digest", "recipients_list": "nobody"}, "'nobody' not found"),
        ({"template": "no-such-template", "recipients": ["a@example.com"]}, "TemplateDoesNotExist"),
        ({"template": "weekly-digest"}, "exactly one of"),
    ],
)
def test_unusable_campaigns_are_dead_lettered_and_nobody_is_claimed(
    email_env: Any, dispatch: Any, ses: Any, payload: dict[str, Any], reason: str
) -> None:
    body = _envelope(payload)
    result = dispatch(body, attempt=1)

    assert result.outcome is Outcome.DEAD_LETTER
    assert reason in result.reason
    assert _recipient_items(email_env, json.loads(body)["id"]) == {}


def test_an_unverified_sender_is_a_permanent_failure(
    email_env: Any, dispatch: Any, ses: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASYNC_TASKS_EMAIL_SENDER", "stranger@example.com")
    body = _envelope(
        {"template": "weekly-digest", "recipients": ["a@example.com", "b@example.com"]}
    )

    result = dispatch(body, attempt=1)

    assert result.outcome is Outcome.DEAD_LETTER
    assert "EmailConfigurationError" in result.reason


def test_throttling_is_transient_and_the_retry_sends_everyone(email_env: Any, ses: Any) -> None:
    def throttled(addresses: list[str]) -> list[dict[str, str]]:
        raise _client_error("Throttling", "Maximum sending rate exceeded.")

    payload = {"template": "weekly-digest", "recipients": ["a@example.com", "b@example.com"]}
    settings = EmailSettings(sender=SENDER, max_per_second=1000)
    with pytest.raises(EmailDeferredError, match="Throttling") as raised:
        run(
            payload,
            _context("c-throttle"),
            settings=settings,
            services=_services(email_env, ScriptedSes(throttled)),
        )
    assert not is_permanent(raised.value)
    assert _recipient_items(email_env, "c-throttle") == {}  # claims released

    counter = SentCounter(ses)
    run(payload, _context("c-throttle"), settings=settings, services=_services(email_env, ses))
    assert counter.sent == 2


def test_a_destination_ses_rejects_is_recorded_and_the_rest_are_sent(email_env: Any) -> None:
    def one_rejected(addresses: list[str]) -> list[dict[str, str]]:
        return [
            {"Status": "MessageRejected", "Error": "Address blacklisted."}
            if a.startswith("bad")
            else {"Status": "Success", "MessageId": f"m-{a}"}
            for a in addresses
        ]

    payload = {"template": "weekly-digest", "recipients": ["bad@example.com", "ok@example.com"]}
    run(
        payload,
        _context("c-rejected"),
        settings=EmailSettings(sender=SENDER),
        services=_services(email_env, ScriptedSes(one_rejected)),
    )

    items = _recipient_items(email_env, "c-rejected")
    assert items["bad@example.com"]["status"] == "rejected"
    assert items["bad@example.com"]["reason"] == "MessageRejected: Address blacklisted."
    assert items["ok@example.com"]["message_id"] == "m-ok@example.com"


def test_a_refused_call_is_resent_one_by_one_to_find_the_bad_address(email_env: Any) -> None:
    def refuse_batches_with_bad(addresses: list[str]) -> list[dict[str, str]]:
        if "bad@example.com" in addresses:
            # Not "Email address is not verified": that is the sandbox (test_email_rate.py)
            raise _client_error("MessageRejected", "Address blacklisted.")
        return _success(addresses)

    scripted = ScriptedSes(refuse_batches_with_bad)
    payload = {
        "template": "weekly-digest",
        "recipients": ["a@example.com", "bad@example.com", "c@example.com"],
    }
    run(
        payload,
        _context("c-isolate"),
        settings=EmailSettings(sender=SENDER),
        services=_services(email_env, scripted),
    )

    statuses = {k: v["status"] for k, v in _recipient_items(email_env, "c-isolate").items()}
    assert statuses == {
        "a@example.com": "sent",
        "bad@example.com": "rejected",
        "c@example.com": "sent",
    }
    assert scripted.calls[1:] == [["a@example.com"], ["bad@example.com"], ["c@example.com"]]


def test_sending_keeps_to_the_rate_limit_without_real_sleeping(email_env: Any) -> None:
    # GIVEN 35 recipients at 10 per second, on a fake clock that sleeping advances
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    scripted = ScriptedSes(_success)
    payload = {"template": "weekly-digest", "recipients": [f"r{i}@example.com" for i in range(35)]}
    run(
        payload,
        _context("c-rate"),
        settings=EmailSettings(sender=SENDER, max_per_second=10),
        services=_services(email_env, scripted, wall_clock=lambda: now[0], sleep=sleep),
    )

    # THEN a burst of 10, then 25 more at 10/s: 2.5 s of waiting, calls of at most 10
    assert [len(call) for call in scripted.calls] == [10, 10, 10, 5]
    assert sum(sleeps) == pytest.approx(2.5)


def test_a_long_list_fans_out_in_chunks_that_mail_everyone_once(
    email_env: Any,
    dispatch: Any,
    ses: Any,
    upload_list: Any,
    drain_queue: Callable[[], list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN 150 subscribers, chunks of 60 (two SES calls each: 50 and 10) and a real
    # queue behind the producer; the fan-out is under test, not the size (default 500)
    monkeypatch.setenv("ASYNC_TASKS_EMAIL_CHUNK_SIZE", "60")
    upload_list("subscribers", [f"user{i}@example.com,User {i}" for i in range(150)])
    body = _envelope({"template": "weekly-digest", "recipients_list": "subscribers"})
    counter = SentCounter(ses)

    # WHEN the list task runs, and runs again without its ledger (a re-run)
    assert dispatch(body, attempt=1).outcome is Outcome.SUCCEEDED
    rerun = Dispatcher.from_env(idempotency=False).dispatch(body, attempt=2)
    assert rerun.outcome is Outcome.SUCCEEDED

    # THEN it sent nothing itself and enqueued 3 chunks, once
    assert counter.sent == 0
    chunks = [json.loads(b) for b in drain_queue()]
    campaign = json.loads(body)["id"]
    assert sorted(c["idempotency_key"] for c in chunks) == [
        f"{campaign}/chunk-0000{i}" for i in range(3)
    ]
    assert sorted(len(c["payload"]["recipients"]) for c in chunks) == [30, 60, 60]

    # WHEN every chunk is processed twice, with no task ledger to catch the repeat
    dispatcher = Dispatcher.from_env(idempotency=False)
    for attempt in (1, 2):
        for chunk in chunks:
            assert (
                dispatcher.dispatch(json.dumps(chunk), attempt=attempt).outcome is Outcome.SUCCEEDED
            )

    # THEN SES mailed 150 recipients, each once
    assert counter.sent == 150
    items = _recipient_items(email_env, campaign)
    assert len(items) == 150
    assert {item["status"] for item in items.values()} == {"sent"}


@pytest.mark.parametrize("key", ["digest 2026#48", "k" * 300])
def test_chunks_of_an_odd_idempotency_key_still_pass_validation(
    email_env: Any,
    ses: Any,
    upload_list: Any,
    drain_queue: Callable[[], list[str]],
    monkeypatch: pytest.MonkeyPatch,
    key: str,
) -> None:
    monkeypatch.setenv("ASYNC_TASKS_EMAIL_CHUNK_SIZE", "1")
    upload_list("pair", ["a@example.com,A", "b@example.com,B"])
    payload = {"template": "weekly-digest", "recipients_list": "pair"}

    run(
        payload,
        _context(key),
        settings=EmailSettings.from_env(),
        services=_services(email_env, ses),
    )

    chunks = [json.loads(body) for body in drain_queue()]
    assert len(chunks) == 2
    for chunk in chunks:
        send_bulk_email.validate_payload(chunk["payload"])
        assert chunk["payload"]["campaign"].startswith("sha256-")


def test_a_chunk_message_mails_its_recipients_under_the_parent_campaign(
    email_env: Any, dispatch: Any, ses: Any
) -> None:
    counter = SentCounter(ses)
    chunk = load_event("email_chunk.json")

    result = dispatch(json.dumps(chunk))

    assert result.outcome is Outcome.SUCCEEDED, result.reason
    assert counter.sent == 2
    items = _recipient_items(email_env, chunk["payload"]["campaign"])
    assert sorted(items) == ["ada@example.com", "grace@example.com"]


@pytest.mark.parametrize(
    "campaign",
    [
        "5d2f6a8e-91b4-4c3e-8f0a-7b6c2d1e9f34",
        "digest/2026.48:weekly_run",
        "_u_d",
        "/" * 200,
        "a_" * 100,
    ],
)
def test_campaign_tags_follow_ses_tag_rules_and_give_the_campaign_back(campaign: str) -> None:
    tags = campaign_tags(campaign)

    assert tags[0]["Name"] == "campaign"
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,256}", t["Value"]) for t in tags)
    assert campaign_from_tags({t["Name"]: [t["Value"]] for t in tags}) == campaign


@pytest.mark.parametrize("tags", [{}, {"campaign": ["bad_x"]}, {"campaign": []}])
def test_untagged_or_mangled_mail_has_no_campaign(tags: dict[str, list[str]]) -> None:
    assert campaign_from_tags(tags) is None


def test_every_message_is_tagged_with_its_campaign(email_env: Any) -> None:
    # on a fake clock that sleeping advances: the rate limit's 0.5 s wait is not under test
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    scripted = ScriptedSes(_success)
    payload = {
        "template": "weekly-digest",
        "campaign": "digest/2026.48",
        "recipients": [f"r{i}@example.com" for i in range(3)],
    }

    run(
        payload,
        _context("ignored"),
        settings=EmailSettings(sender=SENDER, max_per_second=2),
        services=_services(email_env, scripted, wall_clock=lambda: now[0], sleep=sleep),
    )

    assert len(scripted.requests) == 2
    for request in scripted.requests:
        assert request["DefaultTags"] == [{"Name": "campaign", "Value": "digest_s2026_d48"}]


def test_a_later_campaign_skips_a_suppressed_address_without_calling_ses(
    email_env: Any, dispatch: Any, envelope_body: Any
) -> None:
    # GIVEN ada@example.com hard-bounced in an earlier campaign: the campaign the bounce
    # sample is tagged with mailed her the message it names, and SES bounced it
    event = load_event("ses_bounce.json")
    CampaignLedger(email_env, campaign_from_tags(event["detail"]["mail"]["tags"]) or "").settle(
        [
            Delivery(
                Recipient("ada@example.com"),
                DeliveryStatus.SENT,
                event["detail"]["mail"]["messageId"],
            )
        ]
    )
    bounce = dispatch(envelope_body("email-feedback", event))
    assert bounce.outcome is Outcome.SUCCEEDED, bounce.reason
    scripted = ScriptedSes(_success)
    payload = {"template": "weekly-digest", "recipients": ["ADA@example.com", "bob@example.org"]}

    # WHEN the next campaign lists her (in another case) again
    run(
        payload,
        _context("c-next"),
        settings=EmailSettings(sender=SENDER),
        services=_services(email_env, scripted),
    )

    # THEN SES is asked for bob only, and the ledger says why ada was skipped
    assert scripted.calls == [["bob@example.org"]]
    items = _recipient_items(email_env, "c-next")
    assert items["ada@example.com"]["status"] == "suppressed"
    assert items["ada@example.com"]["reason"] == (
        "address suppressed: Permanent/General: smtp; 550 5.1.1 user unknown"
    )
    assert items["bob@example.org"]["status"] == "sent"
