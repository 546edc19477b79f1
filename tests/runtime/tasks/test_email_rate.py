"""Bulk email keeps within SES's account-wide rate (issue 20, part 10).

SES meters one maximum send rate per account and region, in recipients a second,
and throttles above it with "Maximum sending rate exceeded"; a sandboxed account
mails verified addresses only, at 1 a second and 200 a day ("Service quotas in Amazon
SES"). Checked here:

* several processes sending at once keep, together, to the one rate (real processes
  on the moto server, their SES calls timed by a botocore hook);
* the rate is the account's quota (moto's SES answers GetSendQuota) unless
  ``ASYNC_TASKS_EMAIL_MAX_PER_SECOND`` sets it;
* SES throttling, injected through a botocore hook, defers the chunk without
  spending its retry budget;
* the sandbox's refusal of an unverified recipient dead-letters the chunk with the
  fix, recording no recipient as rejected.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from botocore.awsrequest import AWSResponse

from runtime.aws_clients import client as runtime_client
from runtime.contract import DEFAULT_EMAIL_MAX_PER_SECOND, EMAIL_MAX_PER_SECOND_ENV
from runtime.dispatcher import Outcome
from runtime.tasks.email.rate import SendQuota, account_rate, read_send_quota
from tests.runtime.helpers import REPO, worker_env

SENDER = "digest@example.com"
TEMPLATE = {"TemplateName": "weekly-digest", "SubjectPart": "Hi", "TextPart": "x"}


def _campaign_items(table: Any, campaign: str) -> dict[str, str]:
    condition = Key("pk").eq(f"email#{campaign}") & Key("sk").begins_with("recipient#")
    items = table.query(KeyConditionExpression=condition)["Items"]
    return {item["sk"].removeprefix("recipient#"): item["status"] for item in items}


@pytest.fixture
def sender(aws: None, task_table: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A verified sender and the template, on in-process moto; returns the task table."""
    ses = boto3.client("ses")
    ses.verify_email_identity(EmailAddress=SENDER)
    ses.create_template(Template=TEMPLATE)  # type: ignore[arg-type]  # a plain dict
    monkeypatch.setenv("ASYNC_TASKS_EMAIL_SENDER", SENDER)
    # Fast, so retries are not timed by the rate (the rate has its own test)
    monkeypatch.setenv(EMAIL_MAX_PER_SECOND_ENV, "1000")
    return task_table


@pytest.fixture
def ses_answers() -> Iterator[Callable[[str, str, int], list[int]]]:
    """Make the handler's own SES client answer its first sends with an error.

    A botocore before-call hook on the runtime's cached client, removed afterwards.
    """
    handler_ses = runtime_client("ses")
    hooks: list[Callable[..., Any]] = []

    def answer(code: str, message: str, times: int) -> list[int]:
        answered: list[int] = []

        def inject(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
            if len(answered) >= times:
                return None
            answered.append(1)
            response = AWSResponse("https://injected", 400, {}, None)  # type: ignore[arg-type]
            return response, {"Error": {"Code": code, "Message": message}}

        # botocore uses a before-call handler's return value as the response
        handler_ses.meta.events.register(_SEND_EVENT, inject)  # type: ignore[arg-type]
        hooks.append(inject)
        return answered

    yield answer
    for hook in hooks:
        handler_ses.meta.events.unregister(_SEND_EVENT, hook)


_SEND_EVENT = "before-call.ses.SendBulkTemplatedEmail"


# -- the rate ----------------------------------------------------------------------


def test_the_rate_is_the_setting_else_the_accounts_quota_else_the_sandbox_rate() -> None:
    quota = SendQuota(max_send_rate=14.0, max_24_hour_send=50_000.0)
    assert account_rate(5.0, quota) == 5.0
    assert account_rate(None, quota) == 14.0
    assert account_rate(None, None) == DEFAULT_EMAIL_MAX_PER_SECOND == 1.0
    assert not quota.looks_sandboxed


def test_the_quota_is_read_from_the_account(aws: None) -> None:
    # moto answers GetSendQuota with the sandbox's figures: 1 a second, 200 a day
    quota = read_send_quota(boto3.client("ses"))
    assert quota == SendQuota(max_send_rate=1.0, max_24_hour_send=200.0)
    assert quota.looks_sandboxed


def test_the_rate_setting_is_in_the_contract_for_the_comparison() -> None:
    assert EMAIL_MAX_PER_SECOND_ENV == "ASYNC_TASKS_EMAIL_MAX_PER_SECOND"


@pytest.mark.slow  # processes: three senders share one rate on the moto server (~5 s)
def test_processes_sending_at_once_keep_together_to_the_one_account_rate(
    table: str, aws_env: dict[str, str]
) -> None:
    # GIVEN an account rate of 4 recipients a second and three processes with 8 each
    ses = boto3.client("ses")
    ses.verify_email_identity(EmailAddress=SENDER)
    ses.create_template(Template=TEMPLATE)  # type: ignore[arg-type]  # a plain dict
    rate, per_process, processes = 4.0, 8, 3
    env = worker_env(
        {
            "ASYNC_TASKS_TABLE": table,
            "ASYNC_TASKS_BUCKET": "unused",
            "ASYNC_TASKS_EMAIL_SENDER": SENDER,
            EMAIL_MAX_PER_SECOND_ENV: str(rate),
        }
    )
    # WHEN they all send at once
    senders = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.runtime.tasks.email_sender_process",
                f"c{i}",
                str(per_process),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    calls: list[Any] = []
    for sender in senders:
        out, _ = sender.communicate(timeout=120)
        assert sender.returncode == 0
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        calls.extend(line["ses_call"] for line in lines if "ses_call" in line)
    # THEN past the bucket's first burst (capacity = the rate), the sends span at least
    # what the rate allows: 24 recipients at 4/s is 5 s after the first 4
    assert sum(call["n"] for call in calls) == per_process * processes
    times = sorted(call["t"] for call in calls)
    burst = rate
    floor = (per_process * processes - burst) / rate
    assert times[-1] - times[0] >= floor - 0.5, f"{times[-1] - times[0]:.1f} s < {floor} s"


# -- throttling and the sandbox ----------------------------------------------------


def test_ses_throttling_defers_the_chunk_without_spending_its_retry_budget(
    sender: Any, dispatch: Any, envelope_body: Callable[..., str], ses_answers: Any
) -> None:
    # GIVEN SES throttling every call for more attempts than the task's budget (5)
    throttled = ses_answers("Throttling", "Maximum sending rate exceeded.", 6)
    body = envelope_body(
        "send-bulk-email",
        {"template": "weekly-digest", "campaign": "c-throttled", "recipients": ["a@example.com"]},
    )
    # WHEN the chunk is dispatched six times, THEN each is deferred, never dead-lettered
    for attempt in range(1, 7):
        result = dispatch(body, attempt=attempt)
        assert result.outcome is Outcome.RETRY, result.reason
        assert result.retry_after_seconds == 10.0
        assert "not counted against the retry budget" in result.reason
    assert len(throttled) == 6
    # ... and once SES accepts, the seventh sends it
    assert dispatch(body, attempt=7).outcome is Outcome.SUCCEEDED
    assert _campaign_items(sender, "c-throttled") == {"a@example.com": "sent"}


def test_a_sandboxed_account_dead_letters_with_the_fix_and_rejects_nobody(
    sender: Any, dispatch: Any, envelope_body: Callable[..., str], ses_answers: Any
) -> None:
    # GIVEN the sandbox's answer for an unverified recipient (SES names the address);
    # the wording is SES's as reported publicly, not verified against AWS offline
    ses_answers(
        "MessageRejected",
        "Email address is not verified. The following identities failed the check in "
        "region EU-WEST-2: a@example.com",
        99,
    )
    body = envelope_body(
        "send-bulk-email",
        {
            "template": "weekly-digest",
            "campaign": "c-sandbox",
            "recipients": ["a@example.com", "b@example.com"],
        },
    )
    result = dispatch(body, attempt=1)
    # THEN one line names the cause and the fix, and no recipient is recorded rejected
    assert result.outcome is Outcome.DEAD_LETTER
    assert result.reason.startswith("EmailSandboxError: SES refused a recipient")
    assert "Request production access" in result.reason
    assert "Service quotas in Amazon SES" in result.reason
    assert _campaign_items(sender, "c-sandbox") == {}
