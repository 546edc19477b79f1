"""Bodies no retry can fix are dead-lettered at their first attempt, with their reason.

The probe's three bodies (issue 20, part 2) are sent to a real queue and consumed by a
real worker process and by the Lambda handler:

* JSON nested 100,000 deep: ``json.loads`` raises RecursionError;
* a 5,000-digit integer: ValueError from Python's int-string limit (4,300 digits);
* an idempotency key of 512 emoji: 512 characters but 2,048 bytes, so the ledger key
  ``idempotency#probe#<key>`` is past DynamoDB's 2,048-byte partition key limit
  ("Constraints in Amazon DynamoDB", Partition keys and sort keys).

And a ValidationException from DynamoDB on the ledger claim, injected through a
botocore hook, is permanent too: the request is made of the envelope, so it fails
the same way on every attempt.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from runtime import lambda_batch
from runtime.contract.storage import DYNAMODB_PARTITION_KEY_BYTES, LEDGER_PK_PREFIX
from runtime.envelope import encode, new_envelope
from tests.runtime.helpers import (
    QueuePair,
    queue_depth,
    receive_all,
    start_worker,
    wait_until,
)
from tests.runtime.probe_tasks import counter

EMOJI_KEY = "\N{GRINNING FACE}" * 512
# SQS's own maxReceiveCount in production: a retried poison would stay ~2 hours.
PRODUCTION_MAX_RECEIVE_COUNT = 15


def _envelope_text(**fields: Any) -> str:
    envelope = dict(new_envelope("probe", {"n": 1}))
    envelope.update(fields)
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


def _poison_bodies() -> dict[str, str]:
    """Expected reason fragment -> body, each built by hand as a foreign producer would."""
    depth = 100_000
    big_int = _envelope_text().replace('"n":1', '"n":' + "7" * 5_000)
    assert len(big_int) > 5_000
    template = _envelope_text(payload={"n": 1, "deep": "DEEP"})
    return {
        "maximum recursion depth": template.replace('"DEEP"', "[" * depth + "]" * depth),
        "integer string conversion": big_int,
        "2,048 bytes": _envelope_text(idempotency_key=EMOJI_KEY),
    }


def test_the_emoji_key_is_past_dynamodbs_partition_key_limit_in_bytes_not_characters() -> None:
    ledger_key = f"{LEDGER_PK_PREFIX}probe#{EMOJI_KEY}"
    assert len(EMOJI_KEY) == 512
    assert len(ledger_key.encode("utf-8")) > DYNAMODB_PARTITION_KEY_BYTES


def _reasons(sqs: Any, dlq_url: str) -> list[tuple[str, str]]:
    """(failure_reason, receive_count) of every dead-lettered copy."""
    return sorted(
        (
            m["MessageAttributes"]["failure_reason"]["StringValue"],
            m["MessageAttributes"]["receive_count"]["StringValue"],
        )
        for m in receive_all(sqs, dlq_url)
    )


def _assert_each_dead_lettered_once_at_the_first_attempt(
    reasons: list[tuple[str, str]], expected: list[str]
) -> None:
    assert len(reasons) == len(expected), reasons
    for fragment in expected:
        (match,) = [(r, n) for r, n in reasons if fragment in r]
        assert match[0].startswith("InvalidEnvelopeError"), match
        assert match[1] == "1", f"dead-lettered at receive {match[1]}, not the first: {match}"


@pytest.mark.slow  # process: a real worker on the moto server
def test_the_worker_dead_letters_unreadable_bodies_at_once_and_runs_the_good_one(
    sqs: Any, dynamodb: Any, make_queue: Callable[..., QueuePair], probe_env: str, tmp_path: Path
) -> None:
    # GIVEN the three poison bodies and a good envelope on a queue redriving after 15
    queue = make_queue(visibility_timeout=5, max_receive_count=PRODUCTION_MAX_RECEIVE_COUNT)
    poison = _poison_bodies()
    for body in poison.values():
        sqs.send_message(QueueUrl=queue.url, MessageBody=body)
    sqs.send_message(QueueUrl=queue.url, MessageBody=encode(new_envelope("probe", {"n": 2})))
    # WHEN a worker consumes them (fast backoff: a retried poison would come back in 1-2 s)
    worker = start_worker(
        queue.url,
        tmp_path / "worker.log",
        *("--wait-seconds", "1", "--backoff-base", "1", "--backoff-max", "2"),
    )
    try:
        wait_until(
            lambda: queue_depth(sqs, queue.dlq_url) == len(poison),
            20,
            "the poison bodies in the DLQ",
            lambda: (tmp_path / "worker.log").read_text()[-1500:],
        )
        wait_until(lambda: counter(dynamodb, probe_env, "applications") == 1, 20, "the good one")
    finally:
        worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    # THEN each is dead-lettered once, at its first receive, with its reason
    _assert_each_dead_lettered_once_at_the_first_attempt(_reasons(sqs, queue.dlq_url), [*poison])
    assert queue_depth(sqs, queue.url) == 0


def test_the_lambda_handler_dead_letters_unreadable_bodies_at_once(
    sqs: Any,
    make_queue: Callable[..., QueuePair],
    delivered: Callable[..., dict[str, Any]],
    probe_function: str,
) -> None:
    queue = make_queue(max_receive_count=PRODUCTION_MAX_RECEIVE_COUNT)
    poison = _poison_bodies()
    response = lambda_batch.handler(delivered(queue, list(poison.values())), None)
    # Not reported as failures: SQS deletes them, their copies are in the DLQ
    assert response == {"batchItemFailures": []}
    _assert_each_dead_lettered_once_at_the_first_attempt(_reasons(sqs, queue.dlq_url), [*poison])


def _validation_exception_on_claims(client: Any) -> list[str]:
    """Answer every ledger claim with a ValidationException, as DynamoDB would a bad key.

    A claim is the UpdateItem whose condition admits a RELEASED record; it is chosen
    from the API parameters (before-parameter-build) and answered instead of being sent
    (before-call).
    """
    refused: list[str] = []

    def choose(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if ":released" in params.get("ExpressionAttributeValues", {}) and (
            "attribute_not_exists" in params.get("ConditionExpression", "")
        ):
            context["refuse"] = params["Key"]["pk"]["S"]

    def refuse(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if "refuse" not in context:
            return None
        refused.append(context["refuse"])
        response = AWSResponse("https://injected", 400, {}, None)  # type: ignore[arg-type]
        error = {"Code": "ValidationException", "Message": "injected by the test"}
        return response, {"Error": error}

    client.meta.events.register("before-parameter-build.dynamodb.UpdateItem", choose)
    client.meta.events.register("before-call.dynamodb.UpdateItem", refuse)
    return refused


def test_a_validation_exception_on_the_ledger_is_permanent(
    sqs: Any,
    make_queue: Callable[..., QueuePair],
    delivered: Callable[..., dict[str, Any]],
    probe_function: str,
) -> None:
    # GIVEN a ledger whose claims DynamoDB refuses as invalid
    dynamodb = boto3.client("dynamodb")
    refused = _validation_exception_on_claims(dynamodb)
    queue = make_queue(max_receive_count=PRODUCTION_MAX_RECEIVE_COUNT)
    event = delivered(queue, [encode(new_envelope("probe", {"n": 1}))])
    # WHEN the Lambda handler runs it
    response = lambda_batch.handle_batch(event, dynamodb=dynamodb)
    # THEN it is dead-lettered at once, naming the ledger, and not retried
    assert response == {"batchItemFailures": []}
    assert len(refused) == 1
    ((reason, receive_count),) = _reasons(sqs, queue.dlq_url)
    assert reason.startswith("LedgerRejectedError: the idempotency ledger refused key"), reason
    assert receive_count == "1"
