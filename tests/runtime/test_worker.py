"""The SQS worker process (``python -m runtime.worker``) against the moto server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runtime.envelope import encode, new_envelope
from runtime.producer import Producer
from tests.runtime.helpers import (
    PROBE_MODULE,
    REPO,
    QueuePair,
    outcomes,
    queue_depth,
    receive_all,
    start_worker,
    wait_until,
    worker_env,
)
from tests.runtime.probe_tasks import counter

# Process tests: each runs ``python -m runtime.worker`` as a subprocess.
pytestmark = pytest.mark.slow


def test_worker_runs_tasks_and_exits_zero_on_sigterm(
    sqs: Any, dynamodb: Any, make_queue: Callable[..., QueuePair], probe_env: str, tmp_path: Path
) -> None:
    queue = make_queue()
    Producer(environ={**os.environ, "ASYNC_TASKS_QUEUE_URL": queue.url}).enqueue_batch(
        "probe", [{"n": i} for i in range(25)]
    )
    log = tmp_path / "worker.log"
    worker = start_worker(queue.url, log, "--wait-seconds", "1")
    wait_until(lambda: counter(dynamodb, probe_env, "applications") == 25, 30, "25 effects")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    assert queue_depth(sqs, queue.url) == 0
    lines = outcomes(log)
    assert {line["outcome"] for line in lines} == {"succeeded"}
    assert {"task", "id", "attempt", "duration_ms", "outcome"} <= set(lines[0])


def test_sigterm_drains_and_leaves_unstarted_messages_receivable(
    sqs: Any, dynamodb: Any, make_queue: Callable[..., QueuePair], table: str, tmp_path: Path
) -> None:
    # GIVEN a worker with one thread, a 60 s visibility timeout and 2 s tasks; the
    # handler module comes from --tasks-module, not the environment
    queue = make_queue(visibility_timeout=60)
    bodies = [encode(new_envelope("probe", {"n": i, "sleep": 2})) for i in range(4)]
    for body in bodies:
        sqs.send_message(QueueUrl=queue.url, MessageBody=body)
    log = tmp_path / "worker.log"
    worker = start_worker(
        queue.url, log, "--concurrency", "1", "--wait-seconds", "1", "--tasks-module", PROBE_MODULE
    )
    wait_until(
        lambda: counter(dynamodb, table, f"slow-started#{worker.pid}") == 1, 30, "a running task"
    )
    # WHEN it gets SIGTERM with one task running (it holds no waiting message)
    worker.send_signal(signal.SIGTERM)
    # THEN it finishes the running task, exits 0, and the rest are receivable at once
    assert worker.wait(30) == 0
    assert counter(dynamodb, table, "applications") == 1
    assert len(receive_all(sqs, queue.url)) == 3
    assert '"released":0' in log.read_text().replace(" ", "")


def test_worker_refuses_to_start_without_a_ledger_table(
    make_queue: Callable[..., QueuePair], aws_env: dict[str, str]
) -> None:
    queue = make_queue()
    result = subprocess.run(
        [sys.executable, "-m", "runtime.worker", "--queue-url", queue.url],
        cwd=REPO,
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "ASYNC_TASKS_TABLE is not set" in result.stderr


def test_worker_needs_a_queue_url(aws_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "runtime.worker", "--no-idempotency"],
        cwd=REPO,
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--queue-url" in result.stderr


def test_worker_exits_with_a_configuration_error_for_a_missing_queue(
    moto_endpoint: str, aws_env: dict[str, str]
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "runtime.worker",
            "--no-idempotency",
            "--queue-url",
            f"{moto_endpoint}/123456789012/no-such-queue",
        ],
        cwd=REPO,
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "cannot consume" in result.stderr
