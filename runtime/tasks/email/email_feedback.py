"""'email-feedback': record SES bounces and complaints; stop mailing those addresses.

The payload is the whole EventBridge event SES publishes for the configuration set
of 'send-bulk-email' (``_email_feedback_event``). Hard bounces and complaints mark the
recipient on its campaign's ledger and put the address on the suppression list that
every later campaign checks; soft bounces are counted only (``_email_feedback_store``).
The campaign comes from the message's ``campaign`` tags, and a recipient is acted on
only when that campaign's ledger shows it sent that address the message the event
names (``mail.messageId``); feedback that cannot be tied to our own send (untagged
mail, a forged event) is logged at WARNING and ignored. Anything that is not an SES
bounce or complaint is a permanent failure: a retry cannot turn it into one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runtime.context import TaskContext
from runtime.log import logger
from runtime.tasks.data import table_from_env
from runtime.tasks.email.feedback_event import parse_feedback
from runtime.tasks.email.feedback_store import record_feedback

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

__all__ = ["handle", "run", "validate_payload"]


def validate_payload(payload: Mapping[str, Any]) -> None:
    parse_feedback(payload)


def handle(payload: Mapping[str, Any], context: TaskContext) -> None:
    run(payload, context, table=table_from_env())


def run(payload: Mapping[str, Any], context: TaskContext, *, table: Table) -> None:
    feedback = parse_feedback(payload)
    counts = record_feedback(table, feedback)
    logger.info(
        "email feedback recorded",
        extra={
            "id": context.envelope_id,
            "event_id": feedback.event_id,
            "kind": str(feedback.kind),
            "campaign": feedback.campaign,
            "message_id": feedback.message_id,
            "recipients": len(feedback.recipients),
            **dict(sorted(counts.items())),
        },
    )
