"""'send-bulk-email': a templated SES email to each recipient of a list, once.

Payloads:

- ``{"template": T, "recipients_list": NAME}``: the list ``recipients/NAME.csv`` in the
  task bucket. Up to ``ASYNC_TASKS_EMAIL_CHUNK_SIZE`` recipients are sent by this
  task; a longer list is fanned out as one chunk task per that many recipients.
- ``{"template": T, "recipients": [address | {"email": ..., <data>...}, ...]}``: send
  to these (a chunk, or a short list from the web app).
- Optional: ``"template_data"`` (default data for every destination) and
  ``"campaign"`` (set on chunks; otherwise the envelope's idempotency key or id).

Everything for one campaign lives under ``pk = "email#<campaign>"`` in the task
table: one item per recipient (``_email_ledger``) and one per enqueued chunk. Each
message is tagged with its campaign (``_email_ses.campaign_tags``) and addresses on the
suppression list are skipped, both for ``email_feedback``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from runtime.aws_clients import client
from runtime.context import TaskContext
from runtime.contract import DEFAULT_EMAIL_CHUNK_SIZE
from runtime.contract import EMAIL_CHUNK_SIZE_ENV as CHUNK_SIZE_ENV
from runtime.contract import EMAIL_CONFIGURATION_SET_ENV as CONFIGURATION_SET_ENV
from runtime.contract import EMAIL_MAX_PER_SECOND_ENV as MAX_PER_SECOND_ENV
from runtime.contract import EMAIL_SENDER_ENV as SENDER_ENV
from runtime.errors import ConfigurationError, PayloadValidationError
from runtime.log import logger
from runtime.tasks.data import bucket_from_env, table_from_env
from runtime.tasks.email.campaign import CampaignSender
from runtime.tasks.email.ledger import CampaignLedger
from runtime.tasks.email.rate import AccountTokenBucket, account_rate, read_send_quota
from runtime.tasks.email.recipients import Recipient, chunked, read_list, recipient_from
from runtime.tasks.email.ses import (
    MAX_DESTINATIONS_PER_CALL,
    SANDBOX_FIX,
    EmailMessage,
    SesBatchSender,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_ses.client import SESClient

__all__ = ["EmailServices", "EmailSettings", "handle", "run", "validate_payload"]

TASK = "send-bulk-email"
DEFAULT_CHUNK_SIZE = DEFAULT_EMAIL_CHUNK_SIZE
# Chunk payloads stay well under the 256 KiB envelope limit, envelope fields included.
CHUNK_PAYLOAD_BYTES = 200_000
_PAYLOAD_KEYS = frozenset(
    {"template", "recipients_list", "recipients", "campaign", "template_data"}
)
_TEMPLATE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_LIST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_CAMPAIGN = re.compile(r"^[A-Za-z0-9._:/-]{1,200}$")


class Enqueuer(Protocol):
    def enqueue(
        self, task: str, payload: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> str: ...


@dataclass(frozen=True, kw_only=True)
class EmailSettings:
    """``max_per_second``: the account-wide rate (None: the account's SES quota)."""

    sender: str
    max_per_second: float | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    configuration_set: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EmailSettings:
        env = os.environ if environ is None else environ
        sender = env.get(SENDER_ENV, "").strip()
        if not sender:
            raise ConfigurationError(f"{SENDER_ENV} is not set; set it to a verified SES identity")
        return cls(
            sender=sender,
            max_per_second=(
                _number(env, MAX_PER_SECOND_ENV, 1.0, float)
                if env.get(MAX_PER_SECOND_ENV, "").strip()
                else None
            ),
            chunk_size=int(_number(env, CHUNK_SIZE_ENV, DEFAULT_CHUNK_SIZE, int)),
            configuration_set=env.get(CONFIGURATION_SET_ENV) or None,
        )


@dataclass(frozen=True, kw_only=True)
class EmailServices:
    """The clients and clocks the handler uses; tests inject fakes.

    ``wall_clock`` times the ledger and the account's shared rate (every process reads
    the same bucket, so it is a wall clock, not a monotonic one).
    """

    ses: SESClient
    s3: S3Client
    table: Table
    producer: Enqueuer
    sleep: Callable[[float], None] = time.sleep
    wall_clock: Callable[[], float] = field(default=time.time)

    @classmethod
    def from_env(cls) -> EmailServices:
        from runtime.producer import Producer

        return cls(ses=client("ses"), s3=client("s3"), table=table_from_env(), producer=Producer())


def validate_payload(payload: Mapping[str, Any]) -> None:
    unknown = sorted(set(payload) - _PAYLOAD_KEYS)
    if unknown:
        _invalid(f"unknown keys {unknown}; allowed: {sorted(_PAYLOAD_KEYS)}")
    _check(payload, "template", _TEMPLATE, "an SES template name (A-Z a-z 0-9 _ -, 1-64)")
    if ("recipients_list" in payload) == ("recipients" in payload):
        _invalid("give exactly one of 'recipients_list' (a list name) or 'recipients' (addresses)")
    if "recipients_list" in payload:
        _check(payload, "recipients_list", _LIST_NAME, "a list name under recipients/, no '/'")
    else:
        recipients = payload["recipients"]
        if not isinstance(recipients, list) or not recipients:
            _invalid("'recipients' must be a non-empty list")
        for entry in recipients:
            recipient_from(entry)
    if "campaign" in payload:
        _check(payload, "campaign", _CAMPAIGN, "1-200 of A-Z a-z 0-9 . _ : / -")
    if not isinstance(payload.get("template_data", {}), Mapping):
        _invalid("'template_data' must be an object")


def handle(payload: Mapping[str, Any], context: TaskContext) -> None:
    run(payload, context, settings=EmailSettings.from_env(), services=EmailServices.from_env())


def run(
    payload: Mapping[str, Any],
    context: TaskContext,
    *,
    settings: EmailSettings,
    services: EmailServices,
) -> None:
    campaign = payload.get("campaign") or _campaign_from(context.idempotency_key)
    ledger = CampaignLedger(services.table, campaign, clock=services.wall_clock)
    if "recipients" in payload:
        recipients: Iterable[Recipient] = [recipient_from(e) for e in payload["recipients"]]
        _send(payload, context, campaign, ledger, recipients, settings, services)
        return
    template_data = dict(payload.get("template_data", {}))
    chunk_bytes = CHUNK_PAYLOAD_BYTES - len(json.dumps(template_data))
    stream = read_list(services.s3, bucket_from_env(), payload["recipients_list"])
    chunks = chunked(stream, settings.chunk_size, chunk_bytes)
    first, second = next(chunks, []), next(chunks, None)
    if second is None:
        _send(payload, context, campaign, ledger, first, settings, services)
        return
    chunk_payload = {"template": payload["template"], "campaign": campaign}
    if template_data:
        chunk_payload["template_data"] = template_data
    enqueued = skipped = 0
    for index, chunk in enumerate(chain([first, second], chunks)):
        # The marker makes a re-run skip chunks already sent to the queue; the chunk's
        # idempotency key covers a crash between enqueue and marker.
        if ledger.chunk_enqueued(index):
            skipped += 1
            continue
        envelope_id = services.producer.enqueue(
            TASK,
            {**chunk_payload, "recipients": [r.to_payload() for r in chunk]},
            idempotency_key=f"{campaign}/chunk-{index:05d}",
        )
        ledger.mark_chunk(index, envelope_id, len(chunk))
        enqueued += 1
    logger.info(
        "recipient list fanned out",
        extra={
            "id": context.envelope_id,
            "campaign": campaign,
            "enqueued": enqueued,
            "already_enqueued": skipped,
        },
    )


def _send(
    payload: Mapping[str, Any],
    context: TaskContext,
    campaign: str,
    ledger: CampaignLedger,
    recipients: Iterable[Recipient],
    settings: EmailSettings,
    services: EmailServices,
) -> None:
    message = EmailMessage(
        sender=settings.sender,
        template=payload["template"],
        default_data=payload.get("template_data", {}),
        configuration_set=settings.configuration_set,
        campaign=campaign,
    )
    # An explicit setting needs no quota (nor the permission to read it).
    quota = read_send_quota(services.ses) if settings.max_per_second is None else None
    if quota is not None and quota.looks_sandboxed:
        logger.warning(
            f"SES quota {quota.max_send_rate:g}/s, {quota.max_24_hour_send:g}/day: {SANDBOX_FIX}",
            extra={"id": context.envelope_id},
        )
    rate = account_rate(settings.max_per_second, quota)
    # Destinations per SES call: SES's 50, or fewer so one call never outruns the rate.
    batch_size = max(1, min(MAX_DESTINATIONS_PER_CALL, int(rate)))
    limiter = AccountTokenBucket(
        services.table,
        services.ses.meta.region_name,
        rate,
        max(rate, batch_size),
        clock=services.wall_clock,
        sleep=services.sleep,
    )
    sender = CampaignSender(
        ledger, SesBatchSender(services.ses, message), limiter, batch_size=batch_size
    )
    counts = sender.send(recipients)
    logger.info(
        "bulk email sent",
        extra={"id": context.envelope_id, "campaign": campaign, **dict(sorted(counts.items()))},
    )


def _campaign_from(idempotency_key: str) -> str:
    """The key itself, or a digest when it would not pass as a chunk's ``campaign``."""
    if _CAMPAIGN.match(idempotency_key):
        return idempotency_key
    return "sha256-" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()


def _number(
    env: Mapping[str, str], name: str, default: float, kind: Callable[[str], float]
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigurationError(f"{name} is {raw!r}; it must be a positive number")
    return value


def _check(payload: Mapping[str, Any], key: str, pattern: re.Pattern[str], what: str) -> None:
    value = payload.get(key)
    if not isinstance(value, str) or not pattern.match(value):
        _invalid(f"'{key}' must be {what}; got {value!r:.80}")


def _invalid(problem: str) -> NoReturn:
    raise PayloadValidationError(f"{TASK}: {problem}")
