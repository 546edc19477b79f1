"""What a consumer does with a message after dispatch: dead-letter it or retry it later.

Shared by the queue consumer and the Lambda handler so both follow one failure model:

* permanent failure: send the original body to the DLQ with the reason as message
  attributes, *then* delete the original (a crash in between duplicates, never loses);
* transient failure: make the message visible again after an exponential backoff on
  its receive count. The dispatcher dead-letters a task whose failed attempts reach
  its retry budget (``runtime.contract.retry_budget``); the queue's ``maxReceiveCount`` is the
  backstop.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from runtime.contract import DLQ_URL_ENV
from runtime.dispatcher import DispatchResult, Outcome
from runtime.errors import ConfigurationError
from runtime.log import logger

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

__all__ = ["DLQ_URL_ENV", "Backoff", "DeadLetterRouter", "Message", "Settler"]

# SQS limits.
MAX_VISIBILITY_SECONDS = 43_200
_MAX_ATTRIBUTE_CHARS = 4096


@dataclass(frozen=True)
class Message:
    """The parts of an SQS message the runtime uses, from either the API or a Lambda event."""

    queue_url: str
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int

    @classmethod
    def from_api(cls, queue_url: str, raw: Mapping[str, Any]) -> Message:
        return cls(
            queue_url=queue_url,
            message_id=raw["MessageId"],
            receipt_handle=raw["ReceiptHandle"],
            body=raw["Body"],
            receive_count=int(raw.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
        )


@dataclass(frozen=True)
class Backoff:
    """Exponential delay on the receive count: base, 2*base, 4*base... up to ``max_seconds``."""

    base_seconds: float = 5
    max_seconds: float = 900

    def delay(self, attempt: int) -> int:
        exponent = min(max(attempt - 1, 0), 30)
        return int(min(self.max_seconds, self.base_seconds * 2**exponent, MAX_VISIBILITY_SECONDS))


class DeadLetterRouter:
    """Finds a queue's DLQ: ``ASYNC_TASKS_DLQ_URL``, else its RedrivePolicy (cached)."""

    def __init__(self, sqs: SQSClient, override_url: str | None = None) -> None:
        self._sqs = sqs
        self._override = override_url
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, sqs: SQSClient, environ: Mapping[str, str] | None = None) -> DeadLetterRouter:
        env = os.environ if environ is None else environ
        return cls(sqs, env.get(DLQ_URL_ENV) or None)

    def check(self) -> None:
        """Fail fast if ``ASYNC_TASKS_DLQ_URL`` names a queue that cannot be used.

        GetQueueAttributes: granted with SendMessage by CDK's ``grant_send_messages``.
        """
        if not self._override:
            return
        try:
            self._sqs.get_queue_attributes(QueueUrl=self._override, AttributeNames=["QueueArn"])
        except (ClientError, BotoCoreError) as error:
            raise ConfigurationError(
                f"{DLQ_URL_ENV}={self._override}: the dead-letter queue cannot be used "
                f"({error}); check the URL and the role's SQS permissions"
            ) from error

    def url_for(self, queue_url: str) -> str:
        if self._override:
            return self._override
        with self._lock:
            if queue_url not in self._cache:
                self._cache[queue_url] = self._lookup(queue_url)
            return self._cache[queue_url]

    def _lookup(self, queue_url: str) -> str:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["RedrivePolicy"]
        ).get("Attributes", {})
        if "RedrivePolicy" not in attributes:
            raise ConfigurationError(
                f"queue {queue_url} has no RedrivePolicy, so permanent failures have "
                f"nowhere to go; give it a DLQ or set {DLQ_URL_ENV}"
            )
        arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
        account, name = arn.split(":")[4], arn.split(":")[5]
        return str(
            self._sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        )


class Settler:
    """Dead-letters and delays messages; deleting is the caller's (it may batch)."""

    def __init__(self, sqs: SQSClient, router: DeadLetterRouter, backoff: Backoff) -> None:
        self._sqs = sqs
        self._router = router
        self._backoff = backoff

    def dead_letter(self, message: Message, result: DispatchResult) -> None:
        """Copy the original body to the DLQ with why it failed. Raises if it cannot."""
        envelope = result.envelope
        attributes = {
            "failure_reason": result.reason[:_MAX_ATTRIBUTE_CHARS] or "unknown",
            "failure_type": type(result.error).__name__ if result.error else "unknown",
            "original_message_id": message.message_id,
            "receive_count": str(message.receive_count),
            "source_queue_url": message.queue_url,
        }
        if envelope is not None:
            attributes["task"] = envelope["task"]
            attributes["envelope_id"] = envelope["id"]
        self._sqs.send_message(
            QueueUrl=self._router.url_for(message.queue_url),
            MessageBody=message.body,
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value}
                for name, value in attributes.items()
            },
        )

    def retry_later(self, message: Message, result: DispatchResult) -> int:
        """Make the message visible again after the backoff; returns the delay."""
        delay = self._backoff.delay(message.receive_count)
        if result.retry_after_seconds is not None:
            delay = min(max(math.ceil(result.retry_after_seconds), 1), MAX_VISIBILITY_SECONDS)
        self._sqs.change_message_visibility(
            QueueUrl=message.queue_url,
            ReceiptHandle=message.receipt_handle,
            VisibilityTimeout=delay,
        )
        return delay

    def settle(self, message: Message, result: DispatchResult, duration_ms: float) -> bool:
        """Act on a dispatch result and log one line; True means "delete the message".

        A message is never dropped: if it cannot be dead-lettered it is retried, and
        if even that call fails its visibility timeout brings it back.
        """
        outcome = result.outcome
        delete = outcome in (Outcome.SUCCEEDED, Outcome.DUPLICATE)
        delay: int | None = None
        try:
            if outcome is Outcome.DEAD_LETTER:
                try:
                    self.dead_letter(message, result)
                    delete = True
                except Exception as error:
                    logger.error(
                        "cannot dead-letter; retrying instead",
                        extra={"message_id": message.message_id, "error": str(error)},
                    )
                    outcome = Outcome.RETRY
            if outcome is Outcome.RETRY:
                delay = self.retry_later(message, result)
        except Exception as error:
            logger.error(
                "cannot delay retry; the visibility timeout will bring it back",
                extra={"message_id": message.message_id, "error": str(error)},
            )
        log_outcome(message, result, outcome, duration_ms, delay)
        return delete


def log_outcome(
    message: Message,
    result: DispatchResult,
    outcome: Outcome,
    duration_ms: float,
    retry_in_seconds: int | None = None,
) -> None:
    """The one log line per message outcome."""
    envelope = result.envelope
    fields: dict[str, Any] = {
        "task": envelope["task"] if envelope else None,
        "id": envelope["id"] if envelope else None,
        "attempt": message.receive_count,
        "duration_ms": round(duration_ms, 1),
        "outcome": outcome.value,
        "message_id": message.message_id,
    }
    if result.error is not None or result.note:
        fields["reason"] = result.reason[:_MAX_ATTRIBUTE_CHARS]
    if retry_in_seconds is not None:
        fields["retry_in_seconds"] = retry_in_seconds
    quiet = outcome in (Outcome.SUCCEEDED, Outcome.DUPLICATE) and result.error is None
    level = "info" if quiet else "warning"
    getattr(logger, level)("task message settled", extra=fields)
