"""Start-up tells throttling from misconfiguration (issue 20, part 3).

Faults are injected from outside the runtime: the child processes (worker, gunicorn's
poller, a Lambda's init) load ``tests/runtime/faults/sitecustomize.py``, which answers
the first calls of an operation with a throttling or 5xx error through botocore's
``before-call`` event; the in-process poller gets a client with the same hook.

* Throttling and 5xx at start-up are retried with backoff, and the consumer starts.
* A missing table, denied access or a bad URL fail fast: exit 2, one line.
* Under gunicorn a throttled start does not stop the web app.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from runtime import gunicorn_hooks
from runtime.envelope import encode, new_envelope
from runtime.errors import ConfigurationError
from runtime.poller import start_poller
from runtime.startup import Preflight, StartupBackoff, is_passing_fault
from tests.runtime.helpers import (
    REPO,
    QueuePair,
    queue_depth,
    start_worker,
    wait_until,
    worker_env,
)
from tests.runtime.probe_tasks import counter

FAULTS_DIR = Path(__file__).parent / "faults"
THROTTLED = "ProvisionedThroughputExceededException"
FAST = ("--wait-seconds", "1", "--backoff-base", "1", "--backoff-max", "2")


def _fault(operation: str, code: str, status: int, times: int) -> dict[str, Any]:
    return {"operation": operation, "code": code, "status": status, "times": times}


def _faulty_env(*faults: dict[str, Any]) -> dict[str, str]:
    """Child-process variables that load the fault hooks before anything else."""
    return {
        "PYTHONPATH": f"{FAULTS_DIR}:{REPO}",
        "ASYNC_TASKS_TEST_FAULTS": json.dumps(list(faults)),
    }


# A throttled ledger twice, then a 503 from SQS on the queue read: three retries.
THROTTLED_START = (
    _fault("dynamodb.GetItem", THROTTLED, 400, 2),
    _fault("sqs.GetQueueAttributes", "ServiceUnavailable", 503, 1),
)


# -- which failures are passing -------------------------------------------------------


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},  # type: ignore[typeddict-item]
        "GetItem",
    )


@pytest.mark.parametrize(
    ("error", "passing"),
    [
        (_client_error(THROTTLED, 400), True),
        (_client_error("ThrottlingException", 400), True),
        (_client_error("SomethingNew", 503), True),
        (_client_error("SlowDown", 429), True),
        (ReadTimeoutError(endpoint_url="http://x"), True),
        (_client_error("ResourceNotFoundException", 400), False),
        (_client_error("AccessDeniedException", 400), False),
        (_client_error("AWS.SimpleQueueService.NonExistentQueue", 400), False),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), False),
    ],
    ids=lambda value: type(value).__name__ if not isinstance(value, bool) else str(value),
)
def test_throttling_5xx_and_read_timeouts_are_passing_the_rest_is_configuration(
    error: Exception, passing: bool
) -> None:
    assert is_passing_fault(error) is passing
    wrapped = ConfigurationError("ASYNC_TASKS_TABLE=t: cannot be read")
    wrapped.__cause__ = error
    assert is_passing_fault(wrapped) is passing


def test_preflight_retries_a_throttled_check_and_does_not_rerun_the_passed_ones() -> None:
    calls: list[str] = []
    throttles = iter([True, True, False])

    def ledger() -> None:
        calls.append("ledger")

    def queue() -> None:
        calls.append("queue")
        if next(throttles):
            raise _client_error(THROTTLED, 400)

    preflight = Preflight([("ledger", ledger), ("queue", queue)], backoff=StartupBackoff(0.01))
    assert preflight.wait()
    assert calls == ["ledger", "queue", "queue", "queue"]


def test_preflight_gives_up_waiting_at_its_budget_without_raising() -> None:
    def throttled() -> None:
        raise _client_error(THROTTLED, 400)

    preflight = Preflight([("ledger", throttled)], backoff=StartupBackoff(0.05, 0.05))
    started = time.monotonic()
    assert not preflight.wait(budget_seconds=0.2)
    assert time.monotonic() - started < 1


# -- the worker process ----------------------------------------------------------------


@pytest.mark.slow  # process: a real worker waits out injected throttling (~2-7 s)
def test_a_worker_started_while_the_ledger_is_throttled_waits_and_starts(
    sqs: Any, dynamodb: Any, make_queue: Callable[..., QueuePair], probe_env: str, tmp_path: Path
) -> None:
    queue = make_queue()
    sqs.send_message(QueueUrl=queue.url, MessageBody=encode(new_envelope("probe", {"n": 1})))
    log = tmp_path / "worker.log"
    worker = start_worker(queue.url, log, *FAST, **_faulty_env(*THROTTLED_START))
    try:
        wait_until(
            lambda: counter(dynamodb, probe_env, "applications") == 1 or worker.poll() is not None,
            60,
            "the worker to start and run the task",
        )
        assert worker.poll() is None, f"the worker exited {worker.returncode}: {log.read_text()}"
    finally:
        worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    text = log.read_text()
    assert text.count("start-up check deferred") == 3
    assert queue_depth(sqs, queue.url) == 0


@pytest.mark.slow  # process: a real worker
def test_sigterm_while_waiting_out_throttling_exits_0_at_once(
    make_queue: Callable[..., QueuePair], probe_env: str, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    forever = _fault("dynamodb.GetItem", THROTTLED, 400, 1_000_000)
    worker = start_worker(make_queue().url, log, *FAST, **_faulty_env(forever))
    wait_until(lambda: "start-up check deferred" in log.read_text(), 30, "a deferred check")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(10) == 0, log.read_text()
    assert "stopped during its start-up checks" in log.read_text()


@pytest.mark.parametrize(
    ("operation", "code", "named"),
    [
        ("dynamodb.GetItem", "AccessDeniedException", "ASYNC_TASKS_TABLE="),
        ("dynamodb.GetItem", "ResourceNotFoundException", "ASYNC_TASKS_TABLE="),
        ("sqs.GetQueueAttributes", "AccessDenied", "cannot consume"),
    ],
)
def test_denied_access_or_a_missing_table_still_exits_2_at_once(
    make_queue: Callable[..., QueuePair], probe_env: str, operation: str, code: str, named: str
) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "runtime.worker", "--queue-url", make_queue().url],
        cwd=REPO,
        env=worker_env(_faulty_env(_fault(operation, code, 400, 1_000_000))),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("error: ") and named in line and code in line
    assert "start-up check deferred" not in result.stdout
    assert time.monotonic() - started < 20


# -- the Lambda's init check -------------------------------------------------------------


def _import_lambda_module(
    queue: QueuePair, *faults: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": "probe-fn",
        "TASK_NAME": "probe",
        "ASYNC_TASKS_DLQ_URL": queue.dlq_url,
        **_faulty_env(*faults),
    }
    return subprocess.run(
        [sys.executable, "-c", "import runtime.lambda_batch"],
        cwd=REPO,
        env=worker_env(env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow  # process: a Lambda init waits out injected throttling
def test_a_lambda_init_waits_out_throttling_and_starts(
    make_queue: Callable[..., QueuePair], probe_env: str
) -> None:
    result = _import_lambda_module(
        make_queue(),
        _fault("dynamodb.GetItem", THROTTLED, 400, 1),
        _fault("sqs.GetQueueAttributes", "InternalError", 500, 1),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("start-up check deferred") == 2
    assert "starting anyway" not in result.stdout


@pytest.mark.slow  # process: a Lambda init throttled past its budget
def test_a_lambda_init_throttled_past_its_budget_starts_anyway(
    make_queue: Callable[..., QueuePair], probe_env: str
) -> None:
    started = time.monotonic()
    result = _import_lambda_module(
        make_queue(), _fault("dynamodb.GetItem", THROTTLED, 400, 1_000_000)
    )
    assert result.returncode == 0, result.stderr
    assert "starting anyway" in result.stdout
    # Lambda's init phase has 10 s; the check keeps within its 5 s budget.
    assert time.monotonic() - started < 10


# -- the embedded poller and gunicorn ----------------------------------------------------


def _throttle(client: Any, operation: str, times: int) -> list[int]:
    failed: list[int] = []

    def inject(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if len(failed) >= times:
            return None
        failed.append(1)
        response = AWSResponse("https://injected", 400, {}, None)  # type: ignore[arg-type]
        return response, {"Error": {"Code": THROTTLED, "Message": "injected by the test"}}

    client.meta.events.register(f"before-call.dynamodb.{operation}", inject)
    return failed


@pytest.mark.slow  # a real poller thread waits out injected throttling
def test_start_poller_returns_at_once_while_throttled_and_consumes_after(
    sqs: Any, dynamodb: Any, make_queue: Callable[..., QueuePair], probe_env: str
) -> None:
    queue = make_queue()
    throttled = boto3.client("dynamodb")
    failed = _throttle(throttled, "GetItem", 2)
    started = time.monotonic()
    handle = start_poller(queue.url, wait_seconds=1, dynamodb=throttled)
    # The caller (the web app) is not held up by the throttled check
    assert time.monotonic() - started < 1
    sqs.send_message(QueueUrl=queue.url, MessageBody=encode(new_envelope("probe", {"n": 1})))
    wait_until(lambda: counter(dynamodb, probe_env, "applications") == 1, 60, "the task")
    assert len(failed) == 2
    handle.stop(timeout=10)
    assert handle.error is None


def test_start_poller_still_raises_denied_access_in_the_callers_thread(
    make_queue: Callable[..., QueuePair], probe_env: str
) -> None:
    denied = boto3.client("dynamodb")

    def deny(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        response = AWSResponse("https://injected", 400, {}, None)  # type: ignore[arg-type]
        return response, {"Error": {"Code": "AccessDeniedException", "Message": "injected"}}

    # botocore uses a before-call handler's return value as the response
    denied.meta.events.register("before-call.dynamodb.GetItem", deny)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=rf"ASYNC_TASKS_TABLE={probe_env}.*AccessDenied"):
        start_poller(make_queue().url, dynamodb=denied)


class _FakeArbiter:
    """The parts of gunicorn's Arbiter the hooks use."""

    def __init__(self) -> None:
        import logging

        self.log = logging.getLogger("fake-gunicorn")

    def handle_term(self) -> None:
        return None


@pytest.mark.slow  # process: a real poller subprocess under the gunicorn hooks
def test_a_throttled_start_under_gunicorn_does_not_stop_the_web_app(
    sqs: Any,
    dynamodb: Any,
    make_queue: Callable[..., QueuePair],
    probe_env: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the master's when_ready hook starts the poller while the ledger is throttled
    queue = make_queue()
    monkeypatch.setenv("ASYNC_TASKS_QUEUE_URL", queue.url)
    for name, value in _faulty_env(*THROTTLED_START).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(REPO)
    master_stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: master_stopped.set())
    try:
        arbiter = _FakeArbiter()
        gunicorn_hooks.when_ready(arbiter)
        process: subprocess.Popen[bytes] = arbiter.async_tasks_poller  # type: ignore[attr-defined]
        sqs.send_message(QueueUrl=queue.url, MessageBody=encode(new_envelope("probe", {"n": 1})))
        # WHEN the throttling passes, THEN the poller runs the task ...
        wait_until(
            lambda: counter(dynamodb, probe_env, "applications") == 1 or process.poll() is not None,
            60,
            "the poller to start and run the task",
        )
        # ... and neither it nor the master was stopped on the way
        assert process.poll() is None, f"the poller exited {process.returncode}"
        assert not master_stopped.is_set()
        arbiter.handle_term()
        gunicorn_hooks.on_exit(arbiter)
        assert process.returncode == 0
    finally:
        signal.signal(signal.SIGTERM, previous)
