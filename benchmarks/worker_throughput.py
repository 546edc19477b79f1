"""Worker-loop throughput against a local moto server, compared with two raw boto3 loops.

    .venv/bin/python benchmarks/worker_throughput.py [--rounds 20] [--batch 100]
                                                     [--latency-ms 15]

Measures messages per second, in one run against the same moto server, twice: with
moto directly, and with every SQS call crossing a local proxy that adds
``--latency-ms`` (default 15 ms, an in-region SQS round trip) per request
(``benchmarks/latency_proxy.py``, run as a process of its own). moto's per-message
CPU cost caps every loop at about 140 msg/s, which hides what batching buys on real
SQS; the latency variant shows it. For each:

(a) the runtime's queue loop (``QueueConsumer``, 10 threads) with a no-op handler and
    no idempotency ledger, so the loop itself is measured, not DynamoDB;
(b) a raw boto3 loop: ReceiveMessage(10) then DeleteMessageBatch, the ceiling;
(c) a naive loop: ReceiveMessage(1) then DeleteMessage, one message at a time.

moto's SQS costs O(queue depth) per call, so the messages are sent in rounds of
``--batch`` (default 100) and each variant drains the same-sized queue; the variants
take turns round by round so load from other processes on the machine hits them all
alike. Goals with latency: (a)/(b) >= 0.8 and (a)/(c) >= 5.

It also reports the Lambda handler's import time (``import runtime.lambda_batch``)
against ``import boto3``, each the median of fresh subprocesses; goal <= 1.2x.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
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


def _start_proxy(upstream: str, latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    """The latency proxy in a process of its own, so it does not take the loop's GIL."""
    process = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("latency_proxy.py")),
            upstream,
            "--delay-ms",
            str(latency_ms),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


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


def _measure(args: argparse.Namespace, control: Any, endpoint: str, tag: str) -> dict[str, float]:
    """Messages per second of each loop, its SQS calls going to ``endpoint``."""
    import boto3

    from runtime.consumer import ConsumerConfig, StopSignal
    from runtime.consumer_factory import build_consumer
    from runtime.envelope import encode, new_envelope

    queues = {
        name: control.create_queue(QueueName=f"bench-{tag}-{name}")["QueueUrl"]
        for name in ("worker", "raw", "naive")
    }
    measured = boto3.client("sqs", endpoint_url=endpoint)
    worker_sqs = boto3.client("sqs", endpoint_url=endpoint)
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
    timings: list[float] = []

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

    variants: dict[str, Callable[[int], None]] = {
        "worker": run_worker,
        "raw": lambda count: _raw_batched(measured, queues["raw"], count),
        "naive": lambda count: _naive(measured, queues["naive"], count),
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
    return {name: counts[name] / elapsed[name] for name in variants}


def _import_seconds(module: str, runs: int) -> float:
    """Median wall time of ``import module`` in fresh interpreters."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    samples = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(samples)


def _report(label: str, rates: dict[str, float]) -> None:
    print(f"\n{label}")
    for name, text in (
        ("worker", "(a) worker loop, no-op handler"),
        ("raw", "(b) raw batched receive + delete"),
        ("naive", "(c) naive one-at-a-time"),
    ):
        print(f"  {text:36} {rates[name]:8.1f} msg/s")
    ceiling = rates["worker"] / rates["raw"]
    naive = rates["worker"] / rates["naive"]
    print(f"  (a)/(b) = {ceiling:.2f}  (goal >= 0.8: {'met' if ceiling >= 0.8 else 'MISSED'})")
    print(f"  (a)/(c) = {naive:.2f}  (goal >= 5: {'met' if naive >= 5 else 'MISSED'})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="rounds per variant (default 20)")
    parser.add_argument("--batch", type=int, default=100, help="messages per round (default 100)")
    parser.add_argument(
        "--naive-rounds", type=int, default=5, help="rounds for the slow naive loop (default 5)"
    )
    parser.add_argument("--concurrency", type=int, default=10, help="worker threads (default 10)")
    parser.add_argument(
        "--latency-ms", type=float, default=15.0, help="added per SQS request (default 15)"
    )
    parser.add_argument(
        "--import-runs", type=int, default=9, help="fresh interpreters per import (default 9)"
    )
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

    from runtime.log import logger

    # Keep the per-message log line (it is part of the loop's cost) but off the terminal.
    logger.registered_handler.setStream(open(os.devnull, "w"))  # type: ignore[attr-defined]  # noqa: SIM115

    proxy, proxy_url = _start_proxy(endpoint, args.latency_ms)
    try:
        control = boto3.client("sqs")
        direct = _measure(args, control, endpoint, "direct")
        delayed = _measure(args, control, proxy_url, "latency")
    finally:
        proxy.terminate()
        proxy.wait(10)
        moto.terminate()
        moto.wait(10)

    print(
        f"messages per loop: worker and raw {args.rounds * args.batch}, "
        f"naive {args.naive_rounds * args.batch}"
    )
    _report("moto directly", direct)
    _report(f"every SQS call through a {args.latency_ms:g} ms latency proxy", delayed)
    handler = _import_seconds("runtime.lambda_batch", args.import_runs)
    baseline = _import_seconds("boto3", args.import_runs)
    ratio = handler / baseline
    print(
        f"\nimport runtime.lambda_batch {handler * 1000:.0f} ms, import boto3 "
        f"{baseline * 1000:.0f} ms (medians of {args.import_runs}): {ratio:.2f}x "
        f"(goal <= 1.2: {'met' if ratio <= 1.2 else 'MISSED'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
