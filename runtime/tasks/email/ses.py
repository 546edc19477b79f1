"""One SES SendBulkTemplatedEmail call per batch, with every outcome classified.

- A destination SES marks ``MessageRejected``/``InvalidParameterValue`` is *rejected*:
  recorded with the reason, never retried.
- A whole call refused that way names no destination, so the batch is re-sent one
  destination at a time to pin the bad address down; if the error names the
  *sender*, no address is at fault and the campaign is misconfigured.
- Throttling ("Maximum sending rate exceeded", "Daily message quota exceeded") means
  nothing was sent and the account's rate is spent: the task is *deferred*
  (``EmailThrottledError``), retried later without spending its retry budget.
- An unverified *recipient* refused means the account is in the SES sandbox, where
  only verified addresses can be mailed: no recipient is at fault, so none is
  recorded as rejected; the task dead-letters with the fix (``EmailSandboxError``).
- Other SES errors mean nothing was sent: the task is retried with backoff.
  Configuration errors (no such template, unverified domain, sending paused) cannot
  heal by retrying, so they dead-letter at once.

Every message carries its campaign as SES message tags, so the bounce and complaint
events SES publishes later (``email_feedback``) can find the campaign's ledger.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from runtime.errors import PermanentTaskError, TaskDeferredError, TaskRuntimeError
from runtime.tasks.email.ledger import Delivery, DeliveryStatus
from runtime.tasks.email.recipients import Recipient

if TYPE_CHECKING:
    from mypy_boto3_ses.client import SESClient

__all__ = [
    "CAMPAIGN_TAG",
    "MAX_DESTINATIONS_PER_CALL",
    "EmailConfigurationError",
    "EmailDeferredError",
    "EmailMessage",
    "EmailSandboxError",
    "EmailThrottledError",
    "SesBatchSender",
    "SesRefusedError",
    "campaign_from_tags",
    "campaign_tags",
]

# SendBulkTemplatedEmail's limit.
MAX_DESTINATIONS_PER_CALL = 50
CAMPAIGN_TAG = "campaign"
# SES tag values allow only A-Z a-z 0-9 _ - and 256 characters. Campaign ids may also
# hold . : / (send_bulk_email's _CAMPAIGN), so "_" escapes; the mapping is reversible.
_TAG_ESCAPES = {"_": "_u", ".": "_d", ":": "_c", "/": "_s"}
_TAG_UNESCAPES = {code[1]: char for char, code in _TAG_ESCAPES.items()}
_TAG_VALUE = re.compile(r"^(?:[A-Za-z0-9-]|_[udcs])+$")
_TAG_VALUE_MAX = 256
_REJECTED = frozenset({"MessageRejected", "InvalidParameterValue"})
_CONFIGURATION = frozenset(
    {
        "TemplateDoesNotExist",
        "MailFromDomainNotVerifiedException",
        "ConfigurationSetDoesNotExist",
        "ConfigurationSetSendingPausedException",
        "AccountSendingPausedException",
    }
)


class SesRefusedError(TaskRuntimeError):
    """SES answered a call with an error, so nothing in that call was sent."""


class EmailDeferredError(SesRefusedError):
    """Throttling or another passing SES failure: retry the task with backoff."""


class EmailConfigurationError(SesRefusedError, PermanentTaskError):
    """The sender, template or configuration set is unusable: dead-letter, fix, redrive."""


class EmailSandboxError(EmailConfigurationError):
    """SES refused an unverified recipient: the account is in the sandbox.

    ``settled`` are the deliveries of the same call that SES did settle (verified
    addresses are mailed in the sandbox): they are recorded, the rest released.
    """

    def __init__(self, message: str, *, settled: Sequence[Delivery] = ()) -> None:
        super().__init__(message)
        self.settled = list(settled)


class EmailThrottledError(EmailDeferredError, TaskDeferredError):
    """SES's rate or daily quota is spent: retry later, not counted as a failed attempt."""


# SES's throttling answers (code "Throttling"), and how long to wait before a retry:
# the rate frees up within seconds, the 24-hour quota over hours. The wording is from
# "Service quotas in Amazon SES" (errors when you reach a quota); not verified offline.
_THROTTLE_RETRY_SECONDS = {"maximum sending rate exceeded": 10.0, "daily message quota": 3600.0}
_DEFAULT_THROTTLE_RETRY_SECONDS = 10.0
# The sandbox's answer for an unverified address; SES names the address after it.
_NOT_VERIFIED = "email address is not verified"
SANDBOX_FIX = (
    "the SES account is in the sandbox, which mails verified addresses only (1 a second, "
    '200 a day; "Service quotas in Amazon SES"). Request production access for this '
    'region ("Request production access (Moving out of the Amazon SES sandbox)"), then '
    "redrive the message"
)


@dataclass(frozen=True, kw_only=True)
class EmailMessage:
    """What every destination of a campaign shares."""

    sender: str
    template: str
    default_data: Mapping[str, Any]
    configuration_set: str | None = None
    campaign: str | None = None


class SesBatchSender:
    def __init__(self, ses: SESClient, message: EmailMessage) -> None:
        self._ses = ses
        self._message = message

    def send(self, batch: Sequence[Recipient]) -> list[Delivery]:
        """One delivery per recipient, in order; raises SesRefusedError if none was sent."""
        try:
            response = self._ses.send_bulk_templated_email(**self._request(batch))
        except ClientError as error:
            return self._refused(batch, error)
        deliveries = [_delivery(r, s) for r, s in zip(batch, response["Status"], strict=True)]
        sandboxed = [
            d
            for d in deliveries
            if d.status is DeliveryStatus.RETRY and _NOT_VERIFIED in d.detail.lower()
        ]
        if sandboxed:
            raise EmailSandboxError(
                f"SES refused {sandboxed[0].recipient.address} ({sandboxed[0].detail}): "
                f"{SANDBOX_FIX}",
                settled=[d for d in deliveries if d.status is not DeliveryStatus.RETRY],
            )
        return deliveries

    def _refused(self, batch: Sequence[Recipient], error: ClientError) -> list[Delivery]:
        code = error.response["Error"].get("Code", "")
        reason = f"{code}: {error.response['Error'].get('Message', '')}"
        blames_sender = self._message.sender.lower() in reason.lower()
        if code == "Throttling":
            raise EmailThrottledError(
                f"SES sent none of {len(batch)} recipients ({reason}); deferred",
                retry_after_seconds=_throttle_retry_seconds(reason),
            ) from error
        if code in _REJECTED and not blames_sender and _NOT_VERIFIED in reason.lower():
            raise EmailSandboxError(f"SES refused a recipient ({reason}): {SANDBOX_FIX}") from error
        if code in _REJECTED and not blames_sender:
            if len(batch) == 1:
                return [Delivery(batch[0], DeliveryStatus.REJECTED, reason)]
            return self._one_by_one(batch)
        if code in _CONFIGURATION or code in _REJECTED:
            raise EmailConfigurationError(
                f"SES refused campaign template '{self._message.template}' from "
                f"{self._message.sender} ({reason}); fix the identity, template or "
                "configuration set, then redrive the message"
            ) from error
        raise EmailDeferredError(f"SES sent none of {len(batch)} recipients ({reason})") from error

    def _one_by_one(self, batch: Sequence[Recipient]) -> list[Delivery]:
        deliveries: list[Delivery] = []
        for index, recipient in enumerate(batch):
            try:
                deliveries.extend(self.send([recipient]))
            except SesRefusedError as error:
                # Some of the batch went out already, so no exception may release it all:
                # defer this and the rest; the retry finds the first part settled.
                deliveries.extend(
                    Delivery(r, DeliveryStatus.RETRY, str(error)) for r in batch[index:]
                )
                break
        return deliveries

    def _request(self, batch: Sequence[Recipient]) -> dict[str, Any]:
        destinations: list[dict[str, Any]] = []
        for recipient in batch:
            destination: dict[str, Any] = {"Destination": {"ToAddresses": [recipient.address]}}
            if recipient.data:
                destination["ReplacementTemplateData"] = json.dumps(dict(recipient.data))
            destinations.append(destination)
        request: dict[str, Any] = {
            "Source": self._message.sender,
            "Template": self._message.template,
            "DefaultTemplateData": json.dumps(dict(self._message.default_data)),
            "Destinations": destinations,
        }
        if self._message.configuration_set:
            # Its event destination is where bounces and complaints are published.
            request["ConfigurationSetName"] = self._message.configuration_set
        if self._message.campaign:
            request["DefaultTags"] = campaign_tags(self._message.campaign)
        return request


def campaign_tags(campaign: str) -> list[dict[str, str]]:
    """SES message tags carrying ``campaign``: ``campaign``, then ``campaign-2``, ...

    An escaped id of up to 200 characters can reach 400, beyond one tag's 256, so
    the rest continues in numbered tags; ``campaign_from_tags`` joins them again.
    """
    value = "".join(_TAG_ESCAPES.get(char, char) for char in campaign)
    if not _TAG_VALUE.match(value):
        raise ValueError(f"campaign {campaign!r:.80} has characters SES tags cannot carry")
    parts = [
        value[start : start + _TAG_VALUE_MAX] for start in range(0, len(value), _TAG_VALUE_MAX)
    ]
    return [{"Name": _tag_name(index), "Value": part} for index, part in enumerate(parts)]


def campaign_from_tags(tags: Mapping[str, Sequence[str]]) -> str | None:
    """The campaign of a published SES event's ``mail.tags``, or None if untagged or mangled."""
    parts: list[str] = []
    while values := tags.get(_tag_name(len(parts))):
        parts.append(str(values[0]))
    value = "".join(parts)
    if not _TAG_VALUE.match(value):
        return None
    return re.sub(r"_([udcs])", lambda m: _TAG_UNESCAPES[m.group(1)], value)


def _tag_name(index: int) -> str:
    return CAMPAIGN_TAG if index == 0 else f"{CAMPAIGN_TAG}-{index + 1}"


def _throttle_retry_seconds(reason: str) -> float:
    text = reason.lower()
    for phrase, seconds in _THROTTLE_RETRY_SECONDS.items():
        if phrase in text:
            return seconds
    return _DEFAULT_THROTTLE_RETRY_SECONDS


def _delivery(recipient: Recipient, status: Mapping[str, Any]) -> Delivery:
    # Real SES always sets Status; moto returns only MessageId for a success.
    code = status.get("Status", "Success")
    if code == "Success":
        return Delivery(recipient, DeliveryStatus.SENT, str(status.get("MessageId", "")))
    reason = f"{code}: {status.get('Error', '')}"
    if code in _REJECTED and _NOT_VERIFIED in reason.lower():
        # The sandbox, not the address: never record it as rejected (send() raises).
        return Delivery(recipient, DeliveryStatus.RETRY, reason)
    if code in _REJECTED:
        return Delivery(recipient, DeliveryStatus.REJECTED, reason)
    return Delivery(recipient, DeliveryStatus.RETRY, reason)
