"""The producer's partial failures can be retried: resend exactly what the error names.

GIVEN 250 keyed ``probe`` payloads and an SQS client on the moto server whose
SendMessageBatch fails 30 % of the entries of every call (a botocore hook withholds
them from the request and answers them as ``Failed``, as SQS's partial-failure answer
does), and whose third call fails in flight after SQS stored its entries;
WHEN the caller resends exactly the payloads ``PartialEnqueueError.failed`` names, with
their keys, until nothing fails (the loop docs/runtime.md shows);
THEN a consumer applies each of the 250 payloads once: none lost, none twice.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError

from runtime.errors import PartialEnqueueError
from runtime.producer import Producer
from tests.runtime.helpers import QueuePair, queue_depth, running_consumer, wait_until
from tests.runtime.probe_tasks import counter

pytestmark = pytest.mark.slow  # 250+ messages through a consumer on the moto server

PAYLOADS = 250
FAILING_SHARE = 0.3
IN_FLIGHT_CALL = 3
SEED = 20


def _flaky_sqs() -> tuple[Any, dict[str, int]]:
    """An SQS client failing 30 % of every batch's entries, and one call in flight."""
    rng = random.Random(SEED)
    seen = {"calls": 0, "failed_entries": 0}
    client = boto3.client("sqs", config=Config(retries={"mode": "standard", "max_attempts": 1}))

    def withhold(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        entries = params["Entries"]
        # Rounded down for one entry, so a request is never empty (SQS refuses that).
        failing = rng.sample(range(len(entries)), round(len(entries) * FAILING_SHARE))
        context["withheld"] = [entries[i]["Id"] for i in failing]
        params["Entries"] = [e for i, e in enumerate(entries) if i not in failing]

    def answer_failed(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        withheld = context.get("withheld", [])
        seen["failed_entries"] += len(withheld)
        parsed.setdefault("Failed", []).extend(
            {"Id": i, "SenderFault": False, "Code": "InternalError", "Message": "injected"}
            for i in withheld
        )

    def lose_the_answer(context: dict[str, Any], **_: Any) -> None:
        seen["calls"] += 1
        if seen["calls"] == IN_FLIGHT_CALL:
            raise ReadTimeoutError(endpoint_url="injected: SQS stored them, the answer is lost")

    client.meta.events.register("before-parameter-build.sqs.SendMessageBatch", withhold)
    client.meta.events.register("after-call.sqs.SendMessageBatch", answer_failed)
    client.meta.events.register("after-call.sqs.SendMessageBatch", lose_the_answer)
    return client, seen


def _enqueue_until_all_sent(
    producer: Producer, payloads: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> list[PartialEnqueueError]:
    """The resend loop from docs/runtime.md: ``failed`` indexes refer to that call's input."""
    remaining = list(range(len(payloads)))
    errors: list[PartialEnqueueError] = []
    while remaining:
        try:
            producer.enqueue_batch(
                "probe",
                [payloads[i] for i in remaining],
                idempotency_keys=[keys[i] for i in remaining],
            )
            remaining = []
        except PartialEnqueueError as error:
            errors.append(error)
            assert [keys[remaining[p.index]] for p in error.failed] == [
                p.idempotency_key for p in error.failed
            ]
            remaining = [remaining[p.index] for p in error.failed]
        assert len(errors) < 100, "the resend loop does not converge"
    return errors


def test_resending_exactly_the_failed_payloads_applies_each_once(
    sqs: Any, dynamodb: Any, make_queue: Callable[..., QueuePair], probe_env: str
) -> None:
    queue = make_queue(visibility_timeout=10)
    client, seen = _flaky_sqs()
    producer = Producer(
        environ={"ASYNC_TASKS_QUEUE_URL": queue.url, "ASYNC_TASKS_TASK_NAMES": "probe"}, sqs=client
    )
    payloads = [{"n": n} for n in range(PAYLOADS)]
    keys = [f"order-{n:04d}" for n in range(PAYLOADS)]

    errors = _enqueue_until_all_sent(producer, payloads, keys)

    # The faults happened: entries failed, and one call's entries came back unknown
    assert seen["failed_entries"] > 0
    assert any(error.unknown for error in errors)
    sent_twice = queue_depth(sqs, queue.url) - PAYLOADS
    assert sent_twice > 0, "the in-flight call's entries should be on the queue twice"
    with running_consumer(queue, concurrency=4) as stop:
        wait_until(
            lambda: queue_depth(sqs, queue.url) == 0,
            180,
            "the queue to drain",
            lambda: queue_depth(sqs, queue.url),
        )
        stop()
    assert queue_depth(sqs, queue.dlq_url) == 0
    assert counter(dynamodb, probe_env, "doubles") == 0
    # One effect item per applied payload, put on condition it is new. (Not the
    # "applications" counter: moto's server can lose one of many concurrent ADDs.)
    applied = sorted(
        int(item["n"]["N"])
        for page in dynamodb.get_paginator("scan").paginate(TableName=probe_env)
        for item in page["Items"]
        if item["pk"]["S"].startswith("effect#")
    )
    assert applied == list(range(PAYLOADS))
