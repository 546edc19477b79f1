"""Worker-loop throughput against a local moto server, compared with two raw boto3 loops.

    .venv/bin/python benchmarks/worker_throughput.py [--rounds 20] [--batch 100]

Measures messages per second, in one run against the same moto server, for:

(a) the runtime's queue loop (``QueueConsumer``, 10 threads) with a no-op handler and
    no idempotency ledger, so the loop itself is measured, not DynamoDB;
(b) a raw boto3 loop: ReceiveMessage(10) then DeleteMessageBatch, the ceiling;
(c) a naive loop: ReceiveMessage(1) then DeleteMessage, one message at a time.

moto's SQS costs O(queue depth) per call, so the messages are sent in rounds of
``--batch`` (default 100) and each variant drains the same-sized queue; the variants
take turns round by round so load from other processes on the machine hits them all
alike. Goals: (a)/(b) >= 0.8 and (a)/(c) >= 5.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from runtime import TaskContext, register  # noqa: E402

TASK = "benchmark-noop"


class _Tally:
    """Counts entries deleted through one client (the round ends when all are gone)."""

    def __init__(self) -> None:
        self.deleted = 0
        self.changed = threading.Condition()

    def add(self, count: int) -> None:
        with self.changed:
            self.deleted += count
            self.changed.notify_all()

    def wait_for(self, target: int, timeout: float = 120) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: self.deleted >= target, timeout):
                raise TimeoutError(f"only {self.deleted} of {target} messages deleted")


@register(TASK)
def noop(payload: Mapping[str, Any], context: TaskContext) -> None:
    return None


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).read()
            return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto_server did not start")


def _fill(sqs: Any, queue_url: str, bodies: list[str]) -> None:
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "MessageBody": body}
                for i, body in enumerate(bodies[start : start + 10])
            ],
        )


def _raw_batched(sqs: Any, queue_url: str, count: int) -> None:
    done = 0
    while done < count:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        if messages:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
            done += len(messages)


def _naive(sqs: Any, queue_url: str, count: int) -> None:
    done = 0
    while done < count:
        for message in sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1
        ).get("Messages", []):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            done += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="rounds per variant (default 20)")
    parser.add_argument("--batch", type=int, default=100, help="messages per round (default 100)")
    parser.add_argument(
        "--naive-rounds", type=int, default=5, help="rounds for the slow naive loop (default 5)"
    )
    parser.add_argument("--concurrency", type=int, default=10, help="worker threads (default 10)")
    args = parser.parse_args()

    moto, endpoint = _start_moto()
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="eu-west-2",
        ASYNC_TASKS_MODULES="__main__",
    )
    import boto3

    from runtime._compose import build_consumer
    from runtime._log import logger
    from runtime.consumer import ConsumerConfig, StopSignal
    from runtime.envelope import encode, new_envelope

    # Keep the per-message log line (it is part of the loop's cost) but off the terminal.
    logger.registered_handler.setStream(open(os.devnull, "w"))  # type: ignore[attr-defined]  # noqa: SIM115

    try:
        control = boto3.client("sqs")
        queues = {
            name: control.create_queue(QueueName=f"bench-{name}")["QueueUrl"]
            for name in ("worker", "raw", "naive")
        }
        worker_sqs = boto3.client("sqs")
        tally = _Tally()
        worker_sqs.meta.events.register(
            "after-call.sqs.DeleteMessageBatch",
            lambda parsed, **_: tally.add(len(parsed.get("Successful", []))),
        )
        consumer = build_consumer(
            queues["worker"],
            config=ConsumerConfig(concurrency=args.concurrency, wait_seconds=1),
            idempotency=False,
            sqs=worker_sqs,
        )

        def run_worker(count: int) -> None:
            # A fresh loop per round, started after the fill like the other variants;
            # its start-up (one GetQueueAttributes, threads) is inside the timing.
            target = tally.deleted + count
            stop = StopSignal()
            loop = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
            loop.start()
            tally.wait_for(target)
            timings.append(time.perf_counter())
            stop.request()
            loop.join(30)

        timings: list[float] = []
        variants: dict[str, Callable[[int], None]] = {
            "worker": run_worker,
            "raw": lambda count: _raw_batched(control, queues["raw"], count),
            "naive": lambda count: _naive(control, queues["naive"], count),
        }
        elapsed = dict.fromkeys(variants, 0.0)
        counts = dict.fromkeys(variants, 0)
        for round_number in range(args.rounds):
            for name, drain in variants.items():
                if name == "naive" and round_number >= args.naive_rounds:
                    continue
                bodies = [encode(new_envelope(TASK, {"i": i})) for i in range(args.batch)]
                _fill(control, queues[name], bodies)
                started = time.perf_counter()
                drain(args.batch)
                finished = timings.pop() if name == "worker" else time.perf_counter()
                elapsed[name] += finished - started
                counts[name] += args.batch
    finally:
        moto.terminate()
        moto.wait(10)

    rates = {name: counts[name] / elapsed[name] for name in variants}
    print(f"messages: worker {counts['worker']}, raw {counts['raw']}, naive {counts['naive']}")
    for name, label in (
        ("worker", "(a) worker loop, no-op handler"),
        ("raw", "(b) raw batched receive + delete"),
        ("naive", "(c) naive one-at-a-time"),
    ):
        print(f"{label:36} {rates[name]:8.1f} msg/s")
    ceiling = rates["worker"] / rates["raw"]
    naive = rates["worker"] / rates["naive"]
    print(f"(a)/(b) = {ceiling:.2f}  (goal >= 0.8: {'met' if ceiling >= 0.8 else 'MISSED'})")
    print(f"(a)/(c) = {naive:.2f}  (goal >= 5: {'met' if naive >= 5 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
