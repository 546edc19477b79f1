"""The private endpoints: accept an envelope (202), then run it in-process.

The probe task below is registered the way a deployer registers handlers
(``ASYNC_TASKS_MODULES`` naming this module), in-process and in a real gunicorn.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from runtime import PayloadValidationError, TaskContext, register
from runtime.envelope import Envelope, new_envelope
from runtime.invoker import handler as invoker_handler
from runtime.web.endpoints import RUNNER_EXTENSION, TaskRunner, create_app
from tests.runtime.helpers import REPO, load_event, wait_until

PROBE_MODULE = __name__
PROBE_TASK = "web-probe"
# In-process tests hold a probe run on its gate until they release it.
_GATES: dict[str, threading.Event] = {}


def _validate(payload: Mapping[str, Any]) -> None:
    if not isinstance(payload.get("file"), str):
        raise PayloadValidationError("web-probe needs 'file': the path it appends its run to")


@register(PROBE_TASK, validator=_validate, max_duration_seconds=60)
def web_probe(payload: Mapping[str, Any], context: TaskContext) -> None:
    """Appends one JSON line per run to ``payload["file"]``, after its gate or sleep."""
    gate = _GATES.get(payload.get("gate", ""))
    if gate is not None:
        gate.wait(10)
    time.sleep(float(payload.get("sleep", 0)))
    if payload.get("fail"):
        raise RuntimeError("web-probe was asked to fail")
    with open(payload["file"], "a") as runs:
        runs.write(json.dumps({"id": context.envelope_id, "payload": dict(payload)}) + "\n")


def answer(response: TestResponse) -> dict[str, Any]:
    """The JSON object of an answer; every answer of these apps is one."""
    body = response.get_json()
    assert isinstance(body, dict), response.data
    return body


def runs(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def probe_envelope(path: Path, **payload: Any) -> Envelope:
    return new_envelope(PROBE_TASK, {"file": str(path), **payload})


def new_gate() -> str:
    name = uuid.uuid4().hex
    _GATES[name] = threading.Event()
    return name


def post(client: FlaskClient, envelope: Mapping[str, Any], task: str | None = None) -> Any:
    path = f"/tasks/{envelope['task'] if task is None else task}"
    return client.post(path, data=json.dumps(envelope), content_type="application/json")


def log_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def logged(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The runtime's log lines as the fields they carry, plus message and level."""
    return [
        {**vars(record), "message": record.getMessage(), "level": record.levelname}
        for record in caplog.records
    ]


def outcomes(caplog: pytest.LogCaptureFixture) -> dict[str, dict[str, Any]]:
    """The outcome line of each probe run, by envelope id."""
    return {
        line["id"]: line
        for line in logged(caplog)
        if line.get("task") == PROBE_TASK and "outcome" in line
    }


@dataclass(frozen=True)
class Endpoints:
    client: FlaskClient
    runner: TaskRunner


@pytest.fixture
def make_endpoints() -> Iterator[Callable[..., Endpoints]]:
    """An in-process endpoints app with the probe registered and no ledger unless given."""
    runners: list[TaskRunner] = []

    def make(*, dynamodb: Any = None, **env: str) -> Endpoints:
        environ = {"ASYNC_TASKS_MODULES": PROBE_MODULE, "ASYNC_TASKS_IDEMPOTENCY": "disabled"}
        app = create_app({**environ, **env}, dynamodb=dynamodb)
        runners.append(app.extensions[RUNNER_EXTENSION])
        return Endpoints(app.test_client(), runners[-1])

    yield make
    for gate in _GATES.values():
        gate.set()
    _GATES.clear()
    for runner in runners:
        runner.close()


def test_valid_envelope_is_accepted_at_once_then_run_with_its_payload(
    make_endpoints: Callable[..., Endpoints], tmp_path: Path
) -> None:
    endpoints = make_endpoints()
    gate = new_gate()
    envelope = probe_envelope(tmp_path / "runs", gate=gate, n=7)
    # WHEN the envelope is posted while its handler is held at the gate
    response = post(endpoints.client, envelope)
    # THEN the answer is 202 before the task has run
    assert (response.status_code, response.json) == (
        202,
        {"id": envelope["id"], "task": PROBE_TASK},
    )
    assert runs(tmp_path / "runs") == []
    # AND the task runs with its payload once released
    _GATES[gate].set()
    wait_until(lambda: bool(runs(tmp_path / "runs")), 5, "the probe run")
    assert runs(tmp_path / "runs") == [{"id": envelope["id"], "payload": envelope["payload"]}]


def test_path_naming_another_task_than_the_envelope_is_400(
    make_endpoints: Callable[..., Endpoints], tmp_path: Path
) -> None:
    response = post(make_endpoints().client, probe_envelope(tmp_path / "runs"), "generate-report")
    assert response.status_code == 400
    assert "'generate-report'" in answer(response)["error"]
    assert f"'{PROBE_TASK}'" in answer(response)["error"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "JSON object"),
        (json.dumps({"task": PROBE_TASK, "payload": {}}).encode(), "missing 'id'"),
        (
            json.dumps({**new_envelope(PROBE_TASK, {}), "version": 2}).encode(),
            "'version' must be 1",
        ),
    ],
    ids=["not-json", "not-an-object", "missing-fields", "wrong-version"],
)
def test_malformed_envelope_is_400_with_the_reason(
    make_endpoints: Callable[..., Endpoints], body: bytes, reason: str
) -> None:
    response = make_endpoints().client.post(f"/tasks/{PROBE_TASK}", data=body)
    assert response.status_code == 400
    assert reason in answer(response)["error"]


def test_payload_its_validator_refuses_is_400_and_never_runs(
    make_endpoints: Callable[..., Endpoints],
) -> None:
    endpoints = make_endpoints()
    response = post(endpoints.client, new_envelope(PROBE_TASK, {"n": 1}))
    assert response.status_code == 400
    assert "needs 'file'" in answer(response)["error"]
    assert endpoints.runner.drain(1) == 0


def test_unknown_task_is_404_naming_the_known_tasks(
    make_endpoints: Callable[..., Endpoints],
) -> None:
    response = post(make_endpoints().client, new_envelope("no-such-task", {}))
    assert response.status_code == 404
    assert "no-such-task" in answer(response)["error"]
    assert {PROBE_TASK, "generate-report"} <= set(answer(response)["known_tasks"])


def test_full_pool_and_backlog_answer_503_until_a_task_finishes(
    make_endpoints: Callable[..., Endpoints], tmp_path: Path
) -> None:
    # GIVEN one thread and a backlog of one, both taken by held tasks
    endpoints = make_endpoints(
        ASYNC_TASKS_ENDPOINT_CONCURRENCY="1", ASYNC_TASKS_ENDPOINT_BACKLOG="1"
    )
    gate = new_gate()
    held = [probe_envelope(tmp_path / "runs", gate=gate) for _ in range(2)]
    assert [post(endpoints.client, e).status_code for e in held] == [202, 202]
    # WHEN a third arrives THEN it is refused with 503, so the caller retries
    refused = post(endpoints.client, probe_envelope(tmp_path / "runs"))
    assert (refused.status_code, refused.headers["Retry-After"]) == (503, "1")
    assert "busy" in answer(refused)["error"]
    # WHEN the held tasks finish THEN there is room again
    _GATES[gate].set()
    wait_until(lambda: len(runs(tmp_path / "runs")) == 2, 5, "the held runs")
    assert post(endpoints.client, probe_envelope(tmp_path / "runs")).status_code == 202


def test_each_outcome_is_one_structured_log_line(
    make_endpoints: Callable[..., Endpoints], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    endpoints = make_endpoints()
    succeeded = probe_envelope(tmp_path / "runs")
    failed = probe_envelope(tmp_path / "runs", fail=True)
    for envelope in (succeeded, failed):
        assert post(endpoints.client, envelope).status_code == 202
    assert endpoints.runner.drain(5) == 0
    lines = outcomes(caplog)
    assert (lines[succeeded["id"]]["outcome"], lines[succeeded["id"]]["level"]) == (
        "succeeded",
        "INFO",
    )
    assert (lines[failed["id"]]["outcome"], lines[failed["id"]]["level"]) == ("failed", "ERROR")
    assert "asked to fail" in lines[failed["id"]]["reason"]


def test_second_delivery_of_an_envelope_is_a_duplicate_under_the_ledger(
    make_endpoints: Callable[..., Endpoints],
    dynamodb: Any,
    table: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoints = make_endpoints(
        dynamodb=dynamodb, ASYNC_TASKS_IDEMPOTENCY="", ASYNC_TASKS_TABLE=table
    )
    envelope = probe_envelope(tmp_path / "runs")
    for _ in range(2):
        assert post(endpoints.client, envelope).status_code == 202
        wait_until(lambda: len(runs(tmp_path / "runs")) == 1, 5, "the first run")
    assert endpoints.runner.drain(5) == 0
    assert len(runs(tmp_path / "runs")) == 1
    assert [line["outcome"] for line in logged(caplog) if "outcome" in line] == [
        "succeeded",
        "duplicate",
    ]


def test_shutdown_reports_unfinished_tasks_and_refuses_new_ones(
    make_endpoints: Callable[..., Endpoints], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    endpoints = make_endpoints()
    held = probe_envelope(tmp_path / "runs", gate=new_gate())
    post(endpoints.client, held)
    # WHEN the process shuts down with the task still held
    assert endpoints.runner.drain(0.2) == 1
    # THEN it is logged as lost, and new work is refused
    (lost,) = [line for line in logged(caplog) if line["message"].startswith("tasks lost")]
    assert (lost["level"], [task["id"] for task in lost["tasks"]]) == ("ERROR", [held["id"]])
    response = post(endpoints.client, probe_envelope(tmp_path / "runs"))
    assert response.status_code == 503
    assert "shutting down" in answer(response)["error"]


def test_invalid_pool_settings_stop_the_boot_naming_the_variable(
    make_endpoints: Callable[..., Endpoints],
) -> None:
    with pytest.raises(Exception, match="ASYNC_TASKS_ENDPOINT_CONCURRENCY is 0"):
        make_endpoints(ASYNC_TASKS_ENDPOINT_CONCURRENCY="0")
    with pytest.raises(Exception, match="ASYNC_TASKS_ENDPOINT_BACKLOG must be an integer"):
        make_endpoints(ASYNC_TASKS_ENDPOINT_BACKLOG="many")


def test_health_answers_ok(make_endpoints: Callable[..., Endpoints]) -> None:
    response = make_endpoints().client.get("/health")
    assert (response.status_code, response.json) == (200, {"status": "ok"})


# --- under a real gunicorn -----------------------------------------------------------


@dataclass(frozen=True)
class Gunicorn:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def logged(self) -> list[dict[str, Any]]:
        return log_lines(self.log.read_text())

    def stop(self) -> int:
        """SIGTERM, as ECS sends it, and wait for the exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def start_gunicorn(log: Path, **env: str) -> Gunicorn:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    environ = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "ASYNC_TASKS_MODULES": PROBE_MODULE,
        "ASYNC_TASKS_IDEMPOTENCY": "disabled",
        **env,
    }
    command = [str(Path(sys.executable).with_name("gunicorn")), "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "1", "--graceful-timeout", "15", "runtime.web.endpoints:app"]
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, cwd=REPO, env=environ, stdout=output, stderr=subprocess.STDOUT
        )
    server = Gunicorn(f"http://127.0.0.1:{port}", process, log)

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    try:
        wait_until(healthy, 20, "gunicorn to answer /health")
    except BaseException:
        server.stop()
        raise
    return server


def http_post(url: str, envelope: Mapping[str, Any]) -> int:
    request = urllib.request.Request(
        f"{url}/tasks/{envelope['task']}",
        data=json.dumps(envelope).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(response.status)


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    server = start_gunicorn(tmp_path_factory.mktemp("gunicorn") / "gunicorn.log")
    yield server
    assert server.stop() == 0


@pytest.mark.slow  # process: a real gunicorn serving the endpoints
def test_gunicorn_serves_the_endpoints_and_runs_an_accepted_task(
    gunicorn: Gunicorn, tmp_path: Path
) -> None:
    envelope = probe_envelope(tmp_path / "runs", n=1)
    assert http_post(gunicorn.url, envelope) == 202
    wait_until(lambda: bool(runs(tmp_path / "runs")), 10, "the run in gunicorn")
    assert runs(tmp_path / "runs")[0]["id"] == envelope["id"]


@pytest.mark.slow  # process: a real gunicorn serving the endpoints
def test_invoker_lambda_delivers_a_schedule_envelope_that_gunicorn_runs(
    gunicorn: Gunicorn, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN the invoker configured as the stack configures it, and an envelope shaped
    # as Scheduler delivers it (the probe task stands in for a catalogue task, whose
    # real handler would need the bucket and table)
    monkeypatch.setenv("ENDPOINT_URL", gunicorn.url)
    scheduled = load_event("scheduler_generate_report.json")
    envelope = {**probe_envelope(tmp_path / "runs"), "created_at": scheduled["created_at"]}
    # WHEN Lambda invokes it THEN the endpoint accepts the envelope
    invocation = invoker_handler(envelope, None)
    assert (invocation["status"], invocation["id"]) == (202, envelope["id"])
    # AND the task runs in the endpoint's process
    wait_until(lambda: bool(runs(tmp_path / "runs")), 10, "the run")
    assert [run["id"] for run in runs(tmp_path / "runs")] == [envelope["id"]]


@pytest.mark.slow  # process: a gunicorn stopped by SIGTERM mid-task
def test_sigterm_lets_short_tasks_finish_and_logs_the_rest_as_lost(tmp_path: Path) -> None:
    # GIVEN a gunicorn that drains for 2 s, running a 0.5 s task and a 30 s task
    server = start_gunicorn(tmp_path / "gunicorn.log", ASYNC_TASKS_ENDPOINT_DRAIN_SECONDS="2")
    short = probe_envelope(tmp_path / "short", sleep=0.5)
    long = probe_envelope(tmp_path / "long", sleep=30)
    try:
        assert [http_post(server.url, e) for e in (short, long)] == [202, 202]
    finally:
        # WHEN ECS stops the container
        code = server.stop()
    # THEN the short task finished, the long one is lost and says so, and gunicorn exits 0
    assert code == 0
    assert [run["id"] for run in runs(tmp_path / "short")] == [short["id"]]
    assert runs(tmp_path / "long") == []
    messages = {line["message"]: line for line in server.logged() if "message" in line}
    lost = messages["tasks lost at shutdown: they were accepted (202) and nothing will retry them"]
    assert [(task["id"], task["started"]) for task in lost["tasks"]] == [(long["id"], True)]
