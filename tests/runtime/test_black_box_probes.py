"""Black-box fault probes of the consumer, its leases and its scale-in protection.

Each test injects its fault from outside the runtime, the way it happens in
production: a handler module registered through ``ASYNC_TASKS_MODULES`` that SIGKILLs
its own process, a worker subprocess whose wall clock is shifted (see
``tests/runtime/skewed_clock``), botocore event hooks that slow DynamoDB or SQS calls,
and real local HTTP servers playing the ECS agent (one that never answers, one that
answers and records).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from runtime.contract import MAX_PROTECTED_SECONDS_ENV
from runtime.contract.retry_budget import redrive_max_receive_count
from runtime.envelope import encode, new_envelope
from runtime.idempotency import DynamoDBLedger
from runtime.registry import DEFAULT_MAX_ATTEMPTS
from tests.runtime import fault_tasks
from tests.runtime.fault_tasks import FAULT_MODULE
from tests.runtime.helpers import (
    PROBE_MODULE,
    REPO,
    QueuePair,
    create_task_table,
    outcomes,
    queue_depth,
    receive_all,
    running_consumer,
    start_worker,
    wait_until,
    worker_env,
)
from tests.runtime.probe_tasks import counter as _counter

pytestmark = pytest.mark.slow

FAST = ("--wait-seconds", "1", "--backoff-base", "1", "--backoff-max", "2")
SKEWED_CLOCK = REPO / "tests" / "runtime" / "skewed_clock"


def counter(dynamodb: Any, table: str, name: str) -> int:
    """The probe's counter; 0 while moto's server is still creating its item.

    moto writes a new item's key before its attributes, so a concurrent read can see
    the item without its value.
    """
    try:
        return _counter(dynamodb, table, name)
    except KeyError:
        return 0


def _body(task: str, payload: dict[str, Any], **options: Any) -> tuple[str, str]:
    envelope = new_envelope(task, payload, **options)
    return envelope["id"], encode(envelope)


def _send(sqs: Any, queue: QueuePair, *bodies: str) -> None:
    sqs.send_message_batch(
        QueueUrl=queue.url,
        Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)],
    )


def _attributes(message: dict[str, Any]) -> dict[str, str]:
    return {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}


def _slow_calls(
    client: Any, operation: str, seconds: float, *, when: Callable[[dict[str, Any]], bool]
) -> list[float]:
    """Delay every ``operation`` call whose parameters match by ``seconds`` (a slow service)."""
    delayed: list[float] = []
    service = client.meta.service_model.service_id.hyphenize()

    def delay(params: dict[str, Any], **_: Any) -> None:
        if when(params):
            delayed.append(time.monotonic())
            time.sleep(seconds)

    client.meta.events.register(f"before-parameter-build.{service}.{operation}", delay)
    return delayed


# 1. A poison that kills its process ---------------------------------------------------


def test_a_message_that_kills_its_process_is_dead_lettered_with_a_reason_and_spares_its_batch(
    sqs: Any, dynamodb: Any, make_queue: Callable[..., QueuePair], probe_env: str, tmp_path: Path
) -> None:
    # GIVEN a poison that SIGKILLs its worker on every attempt and a good 1 s task,
    # sent together so that they are received in the same batch
    queue = make_queue(
        visibility_timeout=2, max_receive_count=redrive_max_receive_count(DEFAULT_MAX_ATTEMPTS)
    )
    poison_id, poison = _body("kill-own-process", {})
    good_id, good = _body("probe", {"n": 1, "sleep": 1})
    _send(sqs, queue, poison, good)
    modules = {"ASYNC_TASKS_MODULES": f"{PROBE_MODULE},{FAULT_MODULE}"}
    # WHEN workers with two threads consume it, each replaced when it dies (as ECS does)
    deaths = 0
    worker = None
    try:
        # A guard against a hang, not a timing goal: five deaths take ~30 s alone, and
        # several times that when the whole suite loads the 2-core machine and moto.
        deadline = time.monotonic() + 400
        while queue_depth(sqs, queue.url) and time.monotonic() < deadline:
            if worker is None or worker.poll() is not None:
                if worker is not None:
                    assert worker.returncode == -signal.SIGKILL
                    deaths += 1
                log = tmp_path / f"worker-{deaths}.log"
                worker = start_worker(queue.url, log, "--concurrency", "2", *FAST, **modules)
            time.sleep(0.1)
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
    logs = "\n".join(p.read_text()[-600:] for p in sorted(tmp_path.glob("worker-*.log")))
    assert queue_depth(sqs, queue.url) == 0, f"not drained after {deaths} deaths:\n{logs}"
    # THEN the poison is dead-lettered, with the reason, once its retry budget is spent
    (dead,) = receive_all(sqs, queue.dlq_url)
    attributes = _attributes(dead)
    assert attributes["envelope_id"] == poison_id
    assert attributes["failure_type"] == "ProcessEndedError"
    assert f"ended its process {DEFAULT_MAX_ATTEMPTS} times" in attributes["failure_reason"]
    assert counter(dynamodb, probe_env, f"attempts#{poison_id}") == DEFAULT_MAX_ATTEMPTS
    assert deaths == DEFAULT_MAX_ATTEMPTS
    # AND the good message it shared a receive with ran to completion, once
    assert counter(dynamodb, probe_env, "applications") == 1
    assert counter(dynamodb, probe_env, f"attempts#{good_id}") >= 1
    assert queue_depth(sqs, queue.url) == 0


# 5. Leases that do not depend on clocks agreeing ----------------------------------------


@pytest.mark.parametrize(
    ("holder_offset", "taker_offset"),
    [(0, 120), (-120, 0)],
    ids=["taker-120s-ahead", "holder-120s-behind"],
)
def test_a_lease_excludes_a_worker_whose_clock_is_120_s_off(
    sqs: Any,
    dynamodb: Any,
    make_queue: Callable[..., QueuePair],
    probe_env: str,
    tmp_path: Path,
    holder_offset: int,
    taker_offset: int,
) -> None:
    # GIVEN worker A running a 3.5 s task under a 2 s lease it keeps renewing
    queue = make_queue(visibility_timeout=2)
    _, first = _body("probe", {"n": 1, "sleep": 3.5}, idempotency_key="k")
    _send(sqs, queue, first)

    def skewed(offset: int) -> dict[str, str]:
        return {"PYTHONPATH": f"{SKEWED_CLOCK}:{REPO}", "TEST_CLOCK_OFFSET_SECONDS": str(offset)}

    logs = {name: tmp_path / f"{name}.log" for name in ("a", "b")}
    a = start_worker(queue.url, logs["a"], "--concurrency", "1", *FAST, **skewed(holder_offset))
    b = None
    try:
        wait_until(lambda: counter(dynamodb, probe_env, f"slow-started#{a.pid}") == 1, 30, "A")
        # WHEN a second delivery of the same key reaches worker B, 120 s off A's clock
        _, second = _body("probe", {"n": 2}, idempotency_key="k")
        _send(sqs, queue, second)
        b = start_worker(queue.url, logs["b"], "--concurrency", "1", *FAST, **skewed(taker_offset))
        wait_until(lambda: queue_depth(sqs, queue.url) == 0, 40, "both messages settled")
    finally:
        for worker in (a, b):
            if worker is not None:
                worker.send_signal(signal.SIGTERM)
                assert worker.wait(30) == 0
    # THEN B never ran the key beside A: the effect happened once, and the second delivery
    # settled as a duplicate (in B, or in A once its own task was done: both may take it)
    assert counter(dynamodb, probe_env, "applications") == 1
    settled = {line["outcome"] for name in ("a", "b") for line in outcomes(logs[name])}
    assert "duplicate" in settled


# 6. The heartbeat under a slow DynamoDB ------------------------------------------------


def _is_renewal(params: dict[str, Any]) -> bool:
    expression = str(params.get("UpdateExpression", ""))
    return "lease_until = :lease" in expression and "#status" not in expression


def test_visibility_is_extended_while_lease_renewals_are_slow(
    sqs: Any,
    dynamodb: Any,
    make_queue: Callable[..., QueuePair],
    probe_env: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN a 2 s visibility timeout, a 3.5 s task, and a DynamoDB that answers lease
    # renewals 2.5 s late (throttled, with botocore retrying)
    queue = make_queue(visibility_timeout=2)
    _, body = _body("probe", {"n": 1, "sleep": 3.5})
    _send(sqs, queue, body)
    slow = boto3.client("dynamodb")
    delayed = _slow_calls(slow, "UpdateItem", 2.5, when=_is_renewal)
    with running_consumer(queue, dynamodb=slow) as stop:
        wait_until(lambda: counter(dynamodb, probe_env, "attempts#" + _only_id(body)) == 1, 10, "")
        # WHEN another consumer polls while it runs
        stolen: list[Any] = []
        while counter(dynamodb, probe_env, "applications") == 0:
            stolen += sqs.receive_message(QueueUrl=queue.url).get("Messages", [])
            time.sleep(0.1)
        wait_until(lambda: queue_depth(sqs, queue.url) == 0, 10, "the delete")
        stop()
    # THEN the message never became visible: its extensions did not wait for the lease
    assert delayed, "no renewal was slowed: the probe did not inject its fault"
    assert stolen == []
    # AND no renewal of the completed task was reported as a lost lease
    assert not [r for r in caplog.records if "lease lost" in r.getMessage()]


def _only_id(body: str) -> str:
    return str(json.loads(body)["id"])


def test_renewing_a_lease_its_owner_completed_is_not_a_lost_lease(
    dynamodb: Any, probe_env: str
) -> None:
    # The renewer's list was taken before the task completed: its renewal comes after.
    ledger = DynamoDBLedger(dynamodb, probe_env)
    claim = ledger.claim("probe", "done-key", lease_seconds=10)
    ledger.complete(claim)
    ledger.renew(claim, 10)  # no LeaseLostError
    assert ledger.claim("probe", "done-key", lease_seconds=10).duplicate


# 7. A hanging ECS agent ----------------------------------------------------------------


@pytest.fixture
def silent_agent() -> Iterator[str]:
    """An ECS agent endpoint that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []
    closing = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not closing.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    closing.set()
    thread.join(2)
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_hanging_ecs_agent_does_not_slow_receiving_or_settling(
    sqs: Any,
    dynamodb: Any,
    make_queue: Callable[..., QueuePair],
    probe_env: str,
    tmp_path: Path,
    recording_server: Any,
    silent_agent: str,
) -> None:
    # GIVEN the time 24 quick messages take with an agent that answers at once
    healthy = _time_24_quick_messages(
        sqs, dynamodb, make_queue(), probe_env, tmp_path / "healthy.log", recording_server.url
    )
    assert recording_server.requests, "the healthy agent was never called"
    # WHEN the agent accepts connections and never answers
    # (the better of two runs: other work on a shared machine only adds time, while a
    # worker that waits for the agent is slow in both)
    hanging = []
    for run in ("hung", "hung-again"):
        other_table = f"{probe_env}-{run}"
        create_task_table(dynamodb, other_table)
        hanging.append(
            _time_24_quick_messages(
                sqs, dynamodb, make_queue(), other_table, tmp_path / f"{run}.log", silent_agent
            )
        )
    # THEN they take about as long (not 5 s per receive waiting for the agent)
    assert min(hanging) < 2 * healthy + 3, (healthy, hanging)


def _time_24_quick_messages(
    sqs: Any, dynamodb: Any, queue: QueuePair, table: str, log: Path, agent_url: str
) -> float:
    worker_table = {"ASYNC_TASKS_TABLE": table}
    worker = start_worker(
        queue.url, log, "--concurrency", "4", *FAST, ECS_AGENT_URI=agent_url, **worker_table
    )
    try:
        _send(sqs, queue, _body("probe", {"n": 0})[1])
        wait_until(lambda: counter(dynamodb, table, "applications") == 1, 60, "the warm-up")
        started = time.monotonic()
        bodies = [_body("probe", {"n": n})[1] for n in range(24)]
        for start in range(0, 24, 10):
            _send(sqs, queue, *bodies[start : start + 10])
        wait_until(lambda: counter(dynamodb, table, "applications") == 25, 120, "24 messages")
        return time.monotonic() - started
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)


# 8. Consumer state: abandon after settle is refused ------------------------------------


def test_a_task_that_settles_while_the_heartbeat_abandons_another_is_not_abandoned(
    sqs: Any, dynamodb: Any, make_queue: Callable[..., QueuePair], probe_env: str
) -> None:
    # GIVEN two tasks past their 4 s maximum duration at the same heartbeat tick (a
    # DynamoDB that answers lease renewals 2.5 s late stretches the ticks): A hangs,
    # B runs until A is being handed back; and an SQS slow to hand A back (1.5 s)
    queue = make_queue(visibility_timeout=2)
    a_id, a = _body("probe", {"n": 1, "sleep": 20})  # still running when the test ends
    b_id, b = _body("finish-on-signal", {})
    _send(sqs, queue, a, b)  # received in one batch, A first
    fault_tasks.FINISH.clear()

    def hand_back_slowly(params: dict[str, Any], **_: Any) -> None:
        if all(entry["VisibilityTimeout"] == 0 for entry in params["Entries"]):
            fault_tasks.FINISH.set()  # WHEN B finishes while A is handed back
            time.sleep(1.5)

    slow_sqs = boto3.client("sqs")
    slow_sqs.meta.events.register(
        "before-parameter-build.sqs.ChangeMessageVisibilityBatch", hand_back_slowly
    )
    slow_ledger = boto3.client("dynamodb")
    _slow_calls(slow_ledger, "UpdateItem", 2.5, when=_is_renewal)
    with running_consumer(
        queue, sqs=slow_sqs, dynamodb=slow_ledger, tasks_modules=[FAULT_MODULE], concurrency=2
    ) as stop:
        wait_until(lambda: counter(dynamodb, probe_env, f"finished#{b_id}") == 1, 30, "B ends")
        wait_until(lambda: queue_depth(sqs, queue.url) <= 1, 10, "B deleted")
        time.sleep(1)  # the heartbeat's next ticks
        report = stop()
    # THEN only A was abandoned: B, settled, was not abandoned after it
    assert report.overdue == 1, report
    assert counter(dynamodb, probe_env, f"attempts#{a_id}") == 1


# 9. Deployments finish under steady load ----------------------------------------------


@dataclass
class RecordingAgent:
    """An ECS agent endpoint answering as the agent does, recording (time, enabled)."""

    url: str = ""
    calls: list[tuple[float, bool]] = field(default_factory=list)


@pytest.fixture
def make_agent() -> Iterator[Callable[[], RecordingAgent]]:
    servers: list[ThreadingHTTPServer] = []

    def make() -> RecordingAgent:
        agent = RecordingAgent()

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                agent.calls.append((time.monotonic(), bool(body["ProtectionEnabled"])))
                raw = json.dumps(
                    {"protection": {"ProtectionEnabled": body["ProtectionEnabled"]}}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
        servers.append(server)
        agent.url = f"http://127.0.0.1:{server.server_port}"
        return agent

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


def _protected_spans(calls: list[tuple[float, bool]], until: float) -> list[float]:
    """How long each continuous protection lasted (an open one runs to ``until``)."""
    spans: list[float] = []
    since: float | None = None
    for at, enabled in calls:
        if enabled and since is None:
            since = at
        elif not enabled and since is not None:
            spans.append(at - since)
            since = None
    if since is not None:
        spans.append(until - since)
    return spans


def test_every_worker_under_steady_load_releases_protection_within_its_bound(
    sqs: Any,
    dynamodb: Any,
    make_queue: Callable[..., QueuePair],
    probe_env: str,
    tmp_path: Path,
    make_agent: Callable[[], RecordingAgent],
) -> None:
    """ECS does not stop a protected task for a deployment or a scale-in ("Protect your
    Amazon ECS tasks from being terminated by scale-in events",
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection.html),
    so a worker that is never idle must release protection by itself."""
    bound, longest_task = 3.0, 1.0
    queue = make_queue(visibility_timeout=10)
    # GIVEN two workers, each with its own agent, bounded to 3 s of continuous protection
    agents = [make_agent(), make_agent()]
    workers = [
        start_worker(
            queue.url,
            tmp_path / f"worker-{i}.log",
            "--concurrency",
            "2",
            *FAST,
            ECS_AGENT_URI=agent.url,
            **{MAX_PROTECTED_SECONDS_ENV: str(bound)},
        )
        for i, agent in enumerate(agents)
    ]
    feeding = threading.Event()
    feeding.set()

    def feed() -> None:  # WHEN the queue never runs dry: 1 s tasks, always some waiting
        while feeding.is_set():
            if queue_depth(sqs, queue.url) < 8:
                _send(
                    sqs,
                    queue,
                    *[_body("probe", {"n": n, "sleep": longest_task})[1] for n in range(4)],
                )
            time.sleep(0.2)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        time.sleep(14)
    finally:
        ended = time.monotonic()
        feeding.clear()
        feeder.join(5)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            assert worker.wait(60) == 0
    # THEN every worker released protection within the bound plus its longest task
    # (and the heartbeat's and the keeper's reaction time: 1.5 s)
    for agent in agents:
        spans = _protected_spans([c for c in agent.calls if c[0] <= ended], ended)
        assert len(spans) >= 3, agent.calls
        assert max(spans) <= bound + longest_task + 1.5, spans
    assert counter(dynamodb, probe_env, "applications") > 10


def test_a_bad_protection_bound_stops_start_up_naming_the_variable(
    make_queue: Callable[..., QueuePair], probe_env: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "runtime.worker", "--queue-url", make_queue().url],
        cwd=REPO,
        env=worker_env({MAX_PROTECTED_SECONDS_ENV: "soon"}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith(f"error: {MAX_PROTECTED_SECONDS_ENV}=soon: not a positive number")
