"""The mandatory fault test: 1,000 messages, poison, transient faults, SIGKILL and SIGTERM.

GIVEN 950 good ``probe`` envelopes (10 % of first and second attempts fail
transiently, 1 in 25 runs for 2 s) and 50 poison messages (malformed JSON, unknown
task, invalid payload), shuffled with a fixed seed, on a queue with a 5 s
visibility timeout and maxReceiveCount 10;
WHEN three worker processes consume it, one (A) is SIGKILLed while it runs a slow task,
a replacement starts, and another gets SIGTERM while it runs a slow task;
THEN every good message's effect happened exactly once, every poison message is in
the DLQ with its reason, the queue is empty, and the SIGTERMed worker exits 0.

A runs one handler thread: a kill can then never land between a handler's effect and
the ledger's completion, a window no ledger can close for an arbitrary side effect
(see docs/runtime.md; ``TaskContext.ledger_completion`` closes it for DynamoDB
effects and has its own test). Its deleter may still hold settled messages, which
come back and must be recognised as duplicates.

Messages are fed in as the queue drains, keeping at most 100 in it: moto's SQS costs
O(queue depth) per call, so a 1,000-deep queue would time moto, not the runtime.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runtime.envelope import encode, new_envelope
from tests.runtime.helpers import (
    QueuePair,
    outcomes,
    queue_depth,
    receive_all,
    start_worker,
    wait_until,
)
from tests.runtime.probe_tasks import counter

pytestmark = pytest.mark.slow

GOOD, POISON = 950, 50
SEED = 33
WORKER_ARGS = (
    "--concurrency",
    "4",
    "--wait-seconds",
    "1",
    "--backoff-base",
    "1",
    "--backoff-max",
    "2",
    "--drain-seconds",
    "20",
)


def _poison(rng: random.Random) -> list[tuple[str, str]]:
    """(body, expected failure_type) for each poison message."""
    bodies: list[tuple[str, str]] = []
    for i in range(POISON):
        kind = i % 3
        if kind == 0:
            bodies.append((f'{{"task": "probe", "id": "broken-{i}"', "InvalidEnvelopeError"))
        elif kind == 1:
            body = encode(new_envelope("probe", {"n": i}))
            bodies.append((body.replace('"probe"', '"no-such-task"', 1), "UnknownTaskError"))
        else:
            bodies.append(
                (encode(new_envelope("probe", {"n": "not-an-int"})), "PayloadValidationError")
            )
    rng.shuffle(bodies)
    return bodies


MAX_DEPTH = 100


def _feed(sqs: Any, queue_url: str, bodies: list[str], done: threading.Event) -> None:
    """Send ``bodies`` in tens, waiting whenever the queue holds MAX_DEPTH or more."""
    for start in range(0, len(bodies), 10):
        while queue_depth(sqs, queue_url) >= MAX_DEPTH:
            time.sleep(0.2)
        chunk = bodies[start : start + 10]
        response = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)],
        )
        assert not response.get("Failed")
    done.set()


def _effects(dynamodb: Any, table: str) -> int:
    """Effect items in the table (the counters are moto updates, this is the ground truth)."""
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table,
        Select="COUNT",
        FilterExpression="begins_with(pk, :effect)",
        ExpressionAttributeValues={":effect": {"S": "effect#"}},
    )
    return sum(page["Count"] for page in pages)


def test_faults_never_lose_or_double_apply_a_message(
    sqs: Any,
    dynamodb: Any,
    make_queue: Callable[..., QueuePair],
    probe_env: str,
    tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    queue = make_queue(visibility_timeout=5, max_receive_count=10)
    good = [
        new_envelope(
            "probe", {"n": n, "hash_faults": True, **({"sleep": 2} if n % 25 == 0 else {})}
        )
        for n in range(GOOD)
    ]
    poison = _poison(rng)
    bodies = [encode(envelope) for envelope in good] + [body for body, _ in poison]
    rng.shuffle(bodies)
    fed = threading.Event()
    feeder = threading.Thread(target=_feed, args=(sqs, queue.url, bodies, fed), daemon=True)
    feeder.start()

    logs = {name: tmp_path / f"{name}.log" for name in ("a", "b", "c", "d")}
    workers = {
        "a": start_worker(queue.url, logs["a"], *WORKER_ARGS, "--concurrency", "1"),
        "b": start_worker(queue.url, logs["b"], *WORKER_ARGS),
        "c": start_worker(queue.url, logs["c"], *WORKER_ARGS),
    }
    try:
        # SIGKILL A while it is inside a 2 s task: its messages are mid-flight.
        a_pid = workers["a"].pid
        wait_until(
            lambda: counter(dynamodb, probe_env, f"slow-started#{a_pid}") >= 1, 60, "A mid-task"
        )
        workers["a"].send_signal(signal.SIGKILL)
        assert workers["a"].wait(10) == -signal.SIGKILL
        workers["d"] = start_worker(queue.url, logs["d"], *WORKER_ARGS)

        # SIGTERM B while it is inside a 2 s task: it must finish it and exit 0.
        b_pid = workers["b"].pid
        wait_until(
            lambda: counter(dynamodb, probe_env, f"slow-started#{b_pid}") >= 1, 60, "B mid-task"
        )
        workers["b"].send_signal(signal.SIGTERM)
        assert workers["b"].wait(30) == 0

        wait_until(
            lambda: (
                fed.is_set()
                and counter(dynamodb, probe_env, "applications") >= GOOD
                and queue_depth(sqs, queue.url) == 0
            ),
            120,
            "every good message applied and the queue empty",
            lambda: {
                "fed": fed.is_set(),
                "applications": counter(dynamodb, probe_env, "applications"),
                "doubles": counter(dynamodb, probe_env, "doubles"),
                "effects": _effects(dynamodb, probe_env),
                "depth": queue_depth(sqs, queue.url),
                "outcomes": Counter(
                    line["outcome"] for log in logs.values() for line in outcomes(log)
                ),
            },
        )
    finally:
        for process in workers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
    assert workers["c"].wait(30) == 0
    assert workers["d"].wait(30) == 0

    # Exactly once: one effect item per good envelope, no double application.
    assert counter(dynamodb, probe_env, "applications") == GOOD
    assert counter(dynamodb, probe_env, "doubles") == 0
    for envelope in good:
        item = dynamodb.get_item(
            TableName=probe_env,
            Key={"pk": {"S": f"effect#{envelope['id']}"}, "sk": {"S": "effect"}},
        )
        assert item["Item"]["n"]["N"] == str(envelope["payload"]["n"])

    # Every poison message is in the DLQ, once, with its reason; no good one is.
    dead = receive_all(sqs, queue.dlq_url)
    assert sorted(m["Body"] for m in dead) == sorted(body for body, _ in poison)
    by_body = {body: failure_type for body, failure_type in poison}
    for message in dead:
        attributes = message["MessageAttributes"]
        assert attributes["failure_type"]["StringValue"] == by_body[message["Body"]]
        assert attributes["failure_reason"]["StringValue"]
        assert attributes["original_message_id"]["StringValue"]

    # Nothing in flight or lost: the counts add up, and faults really happened.
    assert queue_depth(sqs, queue.url) == 0
    assert len(dead) + GOOD == GOOD + POISON
    settled = [line for log in logs.values() for line in outcomes(log)]
    tally = Counter(line["outcome"] for line in settled)
    assert tally["dead-lettered"] == POISON
    assert tally["retried"] >= 30  # ~10 % transient faults on 950 first attempts
    assert sum(counter(dynamodb, probe_env, f"transient#{w.pid}") for w in workers.values()) >= 30
    # B drained: it logged the drain and the loop's clean stop before exiting 0.
    b_log = logs["b"].read_text()
    assert '"message":"draining"' in b_log
    assert '"message":"consumer stopped"' in b_log
    assert '"abandoned":0' in b_log
