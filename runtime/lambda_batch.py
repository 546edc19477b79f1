"""The Lambda entry point, ``runtime.lambda_batch.handler``, for SQS batch events.

Each function runs one task type (``TASK_NAME``); a message for another task is a
permanent failure. Per record:

* success or duplicate: not reported, so SQS deletes it;
* permanent failure: copied to the DLQ with its reason, then not reported (deleted);
* transient failure: its visibility is set to the backoff delay and its id returned
  in ``batchItemFailures`` (the event source mapping needs ReportBatchItemFailures).

Everything is built per invocation (only boto3 clients are reused), so nothing leaks
between warm invocations. In Lambda (``AWS_LAMBDA_FUNCTION_NAME`` is set) the import
checks the configuration once: a missing ``TASK_NAME``, a wrong ``ASYNC_TASKS_TABLE``
or ``ASYNC_TASKS_DLQ_URL`` fails the function's init with one error naming the
variable, instead of failing every message's claim. Throttling or a 5xx is no
misconfiguration: it is retried for a few seconds, and then the function starts anyway
(see ``check_configuration``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from runtime.aws_clients import client
from runtime.contract import TASK_NAME_ENV
from runtime.dispatcher import Dispatcher
from runtime.errors import ConfigurationError
from runtime.log import logger
from runtime.settlement import Backoff, DeadLetterRouter, Message, Settler
from runtime.startup import Preflight

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_sqs.client import SQSClient

__all__ = ["BatchResponse", "handle_batch", "handler"]

# Set by the Lambda runtime in every function's environment.
LAMBDA_FUNCTION_ENV = "AWS_LAMBDA_FUNCTION_NAME"
# How long the init check waits out throttling. Lambda limits a function's init phase
# to 10 s ("Understanding the Lambda execution environment lifecycle", init phase;
# not verified offline): half of it, leaving the rest for imports.
INIT_CHECK_SECONDS = 5.0


class BatchItemFailure(TypedDict):
    itemIdentifier: str


class BatchResponse(TypedDict):
    batchItemFailures: list[BatchItemFailure]


def handler(event: Mapping[str, Any], context: Any) -> BatchResponse:
    """The Lambda handler."""
    return handle_batch(event)


def handle_batch(
    event: Mapping[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
    sqs: SQSClient | None = None,
    dynamodb: DynamoDBClient | None = None,
) -> BatchResponse:
    """Process one SQS event; clients and environment are injectable for tests."""
    env = os.environ if environ is None else environ
    sqs = client("sqs") if sqs is None else sqs
    dispatcher, router = _build(env, sqs, dynamodb)
    settler = Settler(sqs, router, Backoff())
    failures: list[BatchItemFailure] = []
    for record in event.get("Records", []):
        message = _message(record, sqs)
        started = time.perf_counter()
        result = dispatcher.dispatch(message.body, attempt=message.receive_count)
        if not settler.settle(message, result, (time.perf_counter() - started) * 1000):
            failures.append({"itemIdentifier": message.message_id})
    return {"batchItemFailures": failures}


def check_configuration(
    environ: Mapping[str, str] | None = None,
    *,
    sqs: SQSClient | None = None,
    dynamodb: DynamoDBClient | None = None,
    budget_seconds: float = INIT_CHECK_SECONDS,
) -> bool:
    """Raise ConfigurationError naming the variable if the function cannot work.

    Throttling or a 5xx is retried for ``budget_seconds``; if the service still has not
    answered, the function starts anyway (returns False, with a warning): the messages
    then retry on their own backoff, which beats failing every init while it lasts.
    """
    env = os.environ if environ is None else environ
    dispatcher, router = _build(env, client("sqs") if sqs is None else sqs, dynamodb)
    preflight = Preflight(
        [("idempotency ledger", dispatcher.check), ("dead-letter queue", router.check)]
    )
    if preflight.wait(budget_seconds=budget_seconds):
        return True
    logger.warning(
        "start-up checks incomplete: a service kept throttling or failing; starting anyway",
        extra={"budget_seconds": budget_seconds},
    )
    return False


def _build(
    env: Mapping[str, str], sqs: SQSClient, dynamodb: DynamoDBClient | None
) -> tuple[Dispatcher, DeadLetterRouter]:
    task_name = env.get(TASK_NAME_ENV)
    if not task_name:
        raise ConfigurationError(f"{TASK_NAME_ENV} is not set; each function runs one task type")
    dispatcher = Dispatcher.from_env(env, dynamodb=dynamodb, expected_task=task_name)
    return dispatcher, DeadLetterRouter.from_env(sqs, env)


def _message(record: Mapping[str, Any], sqs: SQSClient) -> Message:
    # arn:aws:sqs:region:account:name -> the queue URL the API calls need.
    _, _, _, _region, account, name = record["eventSourceARN"].split(":")
    return Message(
        queue_url=_queue_url(sqs, name, account),
        message_id=record["messageId"],
        receipt_handle=record["receiptHandle"],
        body=record["body"],
        receive_count=int(record.get("attributes", {}).get("ApproximateReceiveCount", 1)),
    )


def _queue_url(sqs: SQSClient, name: str, account: str) -> str:
    # Built from the client's endpoint instead of a GetQueueUrl call per record.
    endpoint = sqs.meta.endpoint_url.rstrip("/")
    return f"{endpoint}/{account}/{name}"


if os.environ.get(LAMBDA_FUNCTION_ENV):
    check_configuration()
