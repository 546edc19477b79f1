"""worker-service's wake-up from zero on the local emulator, before and after the waker
(issue 23: at most 5 s at p95 over 20 wake-ups), in one run.

    .venv/bin/python benchmarks/wake_on_enqueue.py [--wake-ups 20] [--before 5]

Two deployments of worker-service with ``scripts/local-deploy``, minutes at real length
(``--minute-seconds 60``): before, ``-c wakeOnEnqueue=false`` (the backlog metric's
wake-up alarm alone); after, the shipped default (the waker). This process plays the
web app: it enqueues one report with ``runtime.producer`` and times, on the deployed
service, until DescribeServices shows a desired count of 1 (the wake-up), then until
the queue holds nothing visible or in flight (the report processed, a worker process
started and run). Between wake-ups it sets the count back to 0 as a deploy does (the
template's DesiredCount 0), waits for the workers to stop, and waits out the producer's
debounce (10 s), as a web app's next nudge would. A benchmark, not a test: the figures
depend on the machine; the ratio after/before is the point.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from local.scaling import deployed_worker_service  # noqa: E402
from runtime.wake_nudge import NUDGE_DEBOUNCE_SECONDS  # noqa: E402

GOAL_P95_SECONDS = 5.0
EXPORT = re.compile(r"^\s*export (\w+)=(.*)$")


@dataclass
class Deployment:
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    exports: dict[str, str] = field(default_factory=dict)

    def wait_for(self, needle: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(needle in line for line in list(self.lines)):
            if time.monotonic() > deadline or self.process.poll() is not None:
                tail = "".join(self.lines[-40:])
                raise RuntimeError(f"local-deploy: no '{needle}' within {timeout:.0f}s:\n{tail}")
            time.sleep(0.2)


@contextmanager
def local_deploy(*extra: str) -> Iterator[Deployment]:
    process = subprocess.Popen(
        [
            str(ROOT / "scripts" / "local-deploy"),
            "worker-service",
            "--minute-seconds",
            "60",
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deployment = Deployment(process)

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            deployment.lines.append(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        deployment.wait_for("Ctrl-C to stop", 180)
        for line in deployment.lines:
            if (match := EXPORT.match(line)) and match.group(1) != "PATH":
                deployment.exports[match.group(1)] = shlex.split(match.group(2))[0]
        yield deployment
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()


class Service:
    """The deployed worker service and its queue, as the web app's process sees them."""

    def __init__(self) -> None:
        self.cluster, self.name = deployed_worker_service(
            boto3.client("cloudformation"), "AsyncTasks-WorkerService"
        )
        self.ecs: Any = boto3.client("ecs")
        self.sqs: Any = boto3.client("sqs")
        self.queue_url = os.environ["ASYNC_TASKS_QUEUE_URL"]

    def desired(self) -> int:
        (found,) = self.ecs.describe_services(cluster=self.cluster, services=[self.name])[
            "services"
        ]
        return int(found["desiredCount"])

    def queued(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def put_to_sleep(self) -> None:
        self.ecs.update_service(cluster=self.cluster, service=self.name, desiredCount=0)


def until(condition: Any, timeout: float, what: str, every: float = 0.01) -> float:
    """Poll ``condition``; returns when it held (perf_counter)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)
    return time.perf_counter()


def wake_ups(deployment: Deployment, count: int) -> tuple[list[float], list[float], int]:
    """(enqueue -> desired 1, enqueue -> processed) per wake-up, and the waker's wakes."""
    from runtime.producer import Producer

    os.environ.update(deployment.exports)
    service, producer = Service(), Producer()
    woken, processed = [], []
    last_enqueue = -math.inf
    for n in range(count):
        service.put_to_sleep()
        until(lambda: service.desired() == 0 and service.queued() == 0, 60, "the service at 0")
        time.sleep(max(3.0, NUDGE_DEBOUNCE_SECONDS + 0.5 - (time.monotonic() - last_enqueue)))
        started = time.perf_counter()
        last_enqueue = time.monotonic()
        producer.enqueue("generate-report", {"period": "previous-day"})
        woken.append(until(lambda: service.desired() >= 1, 180, "desired 1") - started)
        processed.append(until(lambda: service.queued() == 0, 180, "the report run") - started)
        print(
            f"  wake-up {n + 1}: desired 1 after {woken[-1]:.2f} s, "
            f"processed after {processed[-1]:.2f} s"
        )
    by_waker = sum("waker: nudged" in line for line in deployment.lines)
    return woken, processed, by_waker


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def row(label: str, woken: list[float], processed: list[float]) -> str:
    median = sorted(woken)[len(woken) // 2]
    return (
        f"{label:<34} {len(woken):>8} {median:>8.2f} {p95(woken):>8.2f} {max(woken):>8.2f} "
        f"{p95(processed):>12.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wake-ups", type=int, default=20, help="after, with the waker")
    parser.add_argument("--before", type=int, default=5, help="before: each waits for a minute")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress as it goes
    saved = dict(os.environ)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {load}; minutes of 60 s")
    print("before: -c wakeOnEnqueue=false (the wake-up alarm alone)")
    with local_deploy("-c", "wakeOnEnqueue=false") as deployment:
        before = wake_ups(deployment, args.before)
    os.environ.clear()
    os.environ.update(saved)
    print("after: the waker, nudged by the producer")
    with local_deploy() as deployment:
        after = wake_ups(deployment, args.wake_ups)
    print()
    print(
        f"{'enqueue -> desiredCount 1 (s)':<34} {'wake-ups':>8} {'p50':>8} {'p95':>8} "
        f"{'max':>8} {'processed p95':>12}"
    )
    print(row("before: wake-up alarm only", before[0], before[1]))
    print(row("after: waker", after[0], after[1]))
    ratio = p95(after[0]) / p95(before[0])
    met = "met" if p95(after[0]) <= GOAL_P95_SECONDS else "NOT met"
    print(
        f"p95 after/before {ratio:.3f}; goal p95 <= {GOAL_P95_SECONDS:g} s: {met}; "
        f"{after[2]} of {len(after[0])} wake-ups by the waker, {before[2]} before"
    )
    print(
        "processed = a local worker process started and ran the report (the emulated "
        "start); on Fargate the task's start (30-90 s) comes instead"
    )


if __name__ == "__main__":
    main()
