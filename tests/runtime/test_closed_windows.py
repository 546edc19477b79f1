"""Fault tests for the loss and double-apply windows the runtime closes (issue 11).

Each test injects its fault from outside the runtime: a handler that raises
SystemExit, botocore event hooks that fail DynamoDB calls, real SIGTERMs against real
worker processes, a clock that lets a lease run out, a wrong table or DLQ.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from runtime.consumer_factory import build_consumer
from runtime.contract.retry_budget import redrive_max_receive_count
from runtime.dispatcher import Dispatcher, Outcome
from runtime.envelope import encode, new_envelope
from runtime.errors import ConfigurationError, LeaseLostError, TaskInProgressError
from runtime.idempotency import DynamoDBLedger
from runtime.registry import DEFAULT_MAX_ATTEMPTS, Registry
from tests.runtime.helpers import (
    PROBE_MODULE,
    REPO,
    QueuePair,
    outcomes,
    queue_depth,
    receive_all,
    running_consumer,
    start_worker,
    wait_until,
    worker_env,
)
from tests.runtime.probe_tasks import counter

pytestmark = pytest.mark.slow

FAST = ("--wait-seconds", "1", "--backoff-base", "1", "--backoff-max", "2")


def _send(sqs: Any, queue: QueuePair, payload: dict[str, Any], **options: Any) -> str:
    envelope = new_envelope("probe", payload, **options)
    sqs.send_message(QueueUrl=queue.url, MessageBody=encode(envelope))
    return envelope["id"]


def _attributes(message: dict[str, Any]) -> dict[str, str]:
    return {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}


def _fail_calls(
    client: Any, operation: str, code: str, *, when: Callable[[dict[str, Any]], bool], times: int
) -> list[int]:
    """Make ``operation`` fail with ``code`` the first ``times`` calls whose parameters match.

    The parameters are seen before serialization (before-parameter-build); the call is
    then answered with the error instead of being sent (before-call), which botocore
    turns into the ClientError a real service error would be.
    """
    failed: list[int] = []
    service = client.meta.service_model.service_id.hyphenize()

    def choose(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["inject_error"] = when(params) and len(failed) < times

    def inject(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if not context.get("inject_error"):
            return None
        failed.append(1)
        response = AWSResponse("https://injected", 500, {}, None)  # type: ignore[arg-type]
        return response, {"Error": {"Code": code, "Message": "injected by the test"}}

    client.meta.events.register(f"before-parameter-build.{service}.{operation}", choose)
    client.meta.events.register(f"before-call.{service}.{operation}", inject)
    return failed


def _is_completion(params: dict[str, Any]) -> bool:
    return ":completed" in params.get("ExpressionAttributeValues", {})


# 1. A handler raising BaseException -------------------------------------------------


def test_a_handler_raising_system_exit_is_dead_lettered_and_the_worker_keeps_going(
    sqs: Any, dynamodb: Any, make_queue: Callable[..., QueuePair], probe_env: str, tmp_path: Path
) -> None:
    # GIVEN a worker with one thread, a handler that raises SystemExit, then a good task
    queue = make_queue(visibility_timeout=5)
    _send(sqs, queue, {"n": 1, "exit": 3})
    log = tmp_path / "worker.log"
    worker = start_worker(queue.url, log, "--concurrency", "1", *FAST)
    try:
        wait_until(lambda: queue_depth(sqs, queue.dlq_url) == 1, 30, "the DLQ to get it")
        good = _send(sqs, queue, {"n": 2})
        wait_until(lambda: counter(dynamodb, probe_env, "applications") == 1, 30, "the next task")
        # THEN the worker is still alive and consuming
        assert worker.poll() is None
    finally:
        worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    (dead,) = receive_all(sqs, queue.dlq_url)
    attributes = _attributes(dead)
    assert attributes["failure_type"] == "HandlerExitError"
    assert "SystemExit(3)" in attributes["failure_reason"]
    assert counter(dynamodb, probe_env, f"attempts#{good}") == 1
    assert '"abandoned":0' in log.read_text()


# 2. complete() failing after a successful handler --------------------------------------


@pytest.mark.parametrize(("failures", "quiet"), [(2, True), (99, False)])
def test_a_failing_completion_is_retried_and_never_reruns_the_effect(
    sqs: Any,
    make_queue: Callable[..., QueuePair],
    probe_env: str,
    failures: int,
    quiet: bool,
) -> None:
    # GIVEN a ledger whose completion UpdateItem fails (twice, or every time)
    queue = make_queue(visibility_timeout=2)
    flaky = boto3.client("dynamodb")
    injected = _fail_calls(
        flaky, "UpdateItem", "InternalServerError", when=_is_completion, times=failures
    )
    envelope_id = _send(sqs, queue, {"n": 1})
    with running_consumer(queue, dynamodb=flaky) as stop:
        # WHEN the handler succeeds, THEN its message is deleted either way ...
        wait_until(lambda: queue_depth(sqs, queue.url) == 0, 20, "the delete")
        # ... and stays deleted past the visibility timeout and the 2 s lease
        time.sleep(5)
        stop()
    control = boto3.client("dynamodb")
    assert counter(control, probe_env, f"attempts#{envelope_id}") == 1
    assert counter(control, probe_env, "applications") == 1
    assert queue_depth(sqs, queue.url) == 0 and queue_depth(sqs, queue.dlq_url) == 0
    assert len(injected) == (2 if quiet else 4)  # bounded: 4 attempts in all


# 3. The lease and the heartbeat ------------------------------------------------------


def test_the_heartbeat_renews_the_lease_while_the_handler_runs(
    sqs: Any, dynamodb: Any, make_queue: Callable[..., QueuePair], probe_env: str
) -> None:
    # GIVEN a 2 s visibility timeout (so a 2 s lease) and a 3.5 s task
    queue = make_queue(visibility_timeout=2)
    envelope_id = _send(sqs, queue, {"n": 1, "sleep": 3.5})
    key = {"pk": {"S": f"idempotency#probe#{envelope_id}"}, "sk": {"S": "ledger"}}
    remaining: list[float] = []
    with running_consumer(queue) as stop:
        wait_until(lambda: "Item" in dynamodb.get_item(TableName=probe_env, Key=key), 10, "claim")
        while counter(dynamodb, probe_env, "applications") == 0:
            item = dynamodb.get_item(TableName=probe_env, Key=key, ConsistentRead=True)["Item"]
            if item["status"]["S"] == "IN_PROGRESS":
                remaining.append(float(item["lease_until"]["N"]) - time.time())
            time.sleep(0.2)
        stop()
    # THEN the lease never ran out while it ran, and was never longer than the
    # visibility timeout (it moves with it, so a crash frees the key with the message)
    assert remaining and min(remaining) > 0, remaining
    assert max(remaining) <= 2.5, remaining


def test_a_task_past_its_maximum_duration_is_abandoned_and_never_runs_twice_at_once(
    sqs: Any, dynamodb: Any, make_queue: Callable[..., QueuePair], probe_env: str, tmp_path: Path
) -> None:
    # GIVEN worker A running a task (4 s maximum) that hangs for 9 s on its first attempt
    queue = make_queue(visibility_timeout=2)
    first = _send(sqs, queue, {"n": 1, "sleep": 9, "sleep_attempts": 1}, idempotency_key="k")
    logs = {name: tmp_path / f"{name}.log" for name in ("a", "b")}
    a = start_worker(queue.url, logs["a"], "--concurrency", "1", *FAST)
    wait_until(lambda: counter(dynamodb, probe_env, f"slow-started#{a.pid}") == 1, 30, "A runs")
    # AND a second delivery of the same idempotency key, consumed by worker B
    second = _send(sqs, queue, {"n": 2}, idempotency_key="k")
    b = start_worker(queue.url, logs["b"], "--concurrency", "1", *FAST)
    try:
        # THEN A abandons the run past 4 s, hands its message back and exits 1 (ECS
        # replaces it), so the hung thread ends with the process
        assert a.wait(20) == 1
        assert "ran past its maximum duration" in logs["a"].read_text()
        wait_until(lambda: queue_depth(sqs, queue.url) == 0, 40, "both messages settled")
    finally:
        b.send_signal(signal.SIGTERM)
    assert b.wait(30) == 0
    # AND the key's effect happened once: never two runs of it at the same time
    applied = counter(dynamodb, probe_env, f"attempts#{first}") + counter(
        dynamodb, probe_env, f"attempts#{second}"
    )
    assert counter(dynamodb, probe_env, "applications") == 1, applied
    assert {line["outcome"] for line in outcomes(logs["b"])} >= {"duplicate"}


def test_complete_after_a_lost_lease_is_an_error(dynamodb: Any, probe_env: str) -> None:
    now = [1_000_000.0]
    slow = DynamoDBLedger(dynamodb, probe_env).claim("probe", "k", lease_seconds=10)
    taker = DynamoDBLedger(dynamodb, probe_env, monotonic=lambda: now[0])
    with pytest.raises(TaskInProgressError):
        taker.claim("probe", "k", lease_seconds=10)
    now[0] += 11  # not renewed for a lease, on the taker's clock: it takes the key over
    taker.claim("probe", "k", lease_seconds=10)
    ledger = DynamoDBLedger(dynamodb, probe_env)
    with pytest.raises(LeaseLostError, match="no longer held"):
        ledger.complete(slow)
    with pytest.raises(LeaseLostError):
        ledger.renew(slow, 10)


# 5. Fail fast on configuration --------------------------------------------------------


def _run_worker(queue_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runtime.worker", "--queue-url", queue_url, "--wait-seconds", "1"],
        cwd=REPO,
        env=worker_env(env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [("ASYNC_TASKS_TABLE", "no-such-table"), ("ASYNC_TASKS_DLQ_URL", "http://127.0.0.1:9/nope")],
)
def test_the_worker_exits_2_naming_a_wrong_table_or_dlq(
    make_queue: Callable[..., QueuePair], probe_env: str, variable: str, value: str
) -> None:
    result = _run_worker(make_queue().url, **{variable: value, "AWS_MAX_ATTEMPTS": "1"})
    assert result.returncode == 2, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith(f"error: {variable}={value}: ")


def test_the_lambda_fails_its_init_naming_a_wrong_table(
    make_queue: Callable[..., QueuePair], probe_env: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import runtime.lambda_batch"],
        cwd=REPO,
        env=worker_env(
            {
                "AWS_LAMBDA_FUNCTION_NAME": "probe-fn",
                "TASK_NAME": "probe",
                "ASYNC_TASKS_TABLE": "no-such-table",
                "ASYNC_TASKS_DLQ_URL": make_queue().dlq_url,
            }
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ConfigurationError: ASYNC_TASKS_TABLE=no-such-table" in result.stderr


def test_no_permission_on_the_table_stops_start_up(
    make_queue: Callable[..., QueuePair], probe_env: str
) -> None:
    denied = boto3.client("dynamodb")
    _fail_calls(denied, "GetItem", "AccessDeniedException", when=lambda _: True, times=99)
    with pytest.raises(ConfigurationError, match=rf"ASYNC_TASKS_TABLE={probe_env}.*AccessDenied"):
        build_consumer(make_queue().url, dynamodb=denied)


# 6. Configuration errors are permanent ------------------------------------------------


def test_a_configuration_error_goes_to_the_dlq_at_once_with_the_setting(
    sqs: Any, make_queue: Callable[..., QueuePair], probe_env: str
) -> None:
    queue = make_queue()
    _send(sqs, queue, {"n": 1, "misconfigured": True})
    with running_consumer(queue) as stop:
        wait_until(lambda: queue_depth(sqs, queue.dlq_url) == 1, 20, "the DLQ to get it")
        stop()
    (dead,) = receive_all(sqs, queue.dlq_url)
    attributes = _attributes(dead)
    assert attributes["failure_type"] == "ConfigurationError"
    assert "PROBE_SETTING is not set" in attributes["failure_reason"]
    assert attributes["receive_count"] == "1"


def test_send_bulk_email_without_its_sender_is_permanent_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, aws_env: dict[str, str]
) -> None:
    from runtime.contract import EMAIL_SENDER_ENV as SENDER_ENV

    monkeypatch.delenv(SENDER_ENV, raising=False)
    dispatcher = Dispatcher.from_env({}, idempotency=False, expected_task="send-bulk-email")
    body = encode(
        new_envelope("send-bulk-email", {"template": "weekly-digest", "recipients_list": "all"})
    )
    result = dispatcher.dispatch(body, attempt=1)
    assert result.outcome is Outcome.DEAD_LETTER, result.reason
    assert SENDER_ENV in result.reason


# 7. Receives that are not failures ----------------------------------------------------


def test_a_task_survives_more_deploys_mid_flight_than_its_retry_budget(
    sqs: Any, dynamodb: Any, make_queue: Callable[..., QueuePair], probe_env: str, tmp_path: Path
) -> None:
    # GIVEN a queue whose redrive count follows the rule for the catalogue's 3 attempts,
    # and a 3 s task (allowed 5 failed attempts) that outlasts the workers' 0.5 s drain
    queue = make_queue(visibility_timeout=2, max_receive_count=redrive_max_receive_count(3))
    envelope_id = _send(sqs, queue, {"n": 1, "sleep": 3})
    args = ("--concurrency", "1", "--drain-seconds", "0.5", *FAST)
    # WHEN five deploys each SIGTERM the worker while the task runs: each ends the
    # process with the task, marked interrupted, so its takeover counts no failure
    for deploy in range(DEFAULT_MAX_ATTEMPTS):
        log = tmp_path / f"deploy-{deploy}.log"
        worker = start_worker(queue.url, log, *args)
        started = f"slow-started#{worker.pid}"
        wait_until(
            lambda: counter(dynamodb, probe_env, started) == 1,  # noqa: B023 (used at once)
            40,
            f"the task running in deploy {deploy}",
        )
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 1  # abandoned at the drain deadline
    final = start_worker(queue.url, tmp_path / "final.log", *args)
    try:
        wait_until(lambda: counter(dynamodb, probe_env, "applications") == 1, 60, "the task")
        wait_until(lambda: queue_depth(sqs, queue.url) == 0, 20, "the delete")
    finally:
        final.send_signal(signal.SIGTERM)
    assert final.wait(30) == 0
    # THEN it ran to completion once and never reached the DLQ
    assert queue_depth(sqs, queue.dlq_url) == 0
    assert counter(dynamodb, probe_env, f"attempts#{envelope_id}") == DEFAULT_MAX_ATTEMPTS + 1


def test_the_retry_budget_counts_handler_attempts_and_dead_letters_with_the_reason(
    sqs: Any, dynamodb: Any, make_queue: Callable[..., QueuePair], probe_env: str
) -> None:
    # GIVEN a task that always fails transiently, allowed 5 attempts (the default for
    # a task outside the catalogue), on a queue whose backstop allows 15 receives
    queue = make_queue(visibility_timeout=5, max_receive_count=redrive_max_receive_count(5))
    envelope_id = _send(sqs, queue, {"n": 1, "fail_attempts": 99})
    with running_consumer(queue) as stop:
        wait_until(lambda: queue_depth(sqs, queue.dlq_url) == 1, 60, "the DLQ to get it")
        stop()
    # THEN it went to the DLQ after exactly 5 handler attempts, with its last reason
    assert counter(dynamodb, probe_env, f"attempts#{envelope_id}") == 5
    (dead,) = receive_all(sqs, queue.dlq_url)
    attributes = _attributes(dead)
    assert attributes["failure_type"] == "InjectedTransientError"
    assert "failed 5 of 5 attempts" in attributes["failure_reason"]


def test_the_redrive_rule_leaves_room_for_interruptions_within_sqs_limits() -> None:
    assert redrive_max_receive_count(3) == 13
    assert redrive_max_receive_count(5, interruptions=0) == 5
    assert redrive_max_receive_count(999) == 1000
    with pytest.raises(ValueError, match="at least 1"):
        redrive_max_receive_count(0)
    assert Registry(modules=[PROBE_MODULE]).resolve("generate-report").max_attempts == 3
