"""Helpers shared by the runtime tests (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from runtime.consumer import DrainReport

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "tests" / "events"
PROBE_MODULE = "tests.runtime.probe_tasks"
REGION: Final = "eu-west-2"


@dataclass(frozen=True)
class QueuePair:
    url: str
    dlq_url: str
    arn: str


def load_event(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text()))


def receive_all(sqs: Any, queue_url: str, *, wait_seconds: int = 0) -> list[dict[str, Any]]:
    """Drain a queue's visible messages (with attributes)."""
    found: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        if not batch:
            return found
        found.extend(batch)


def queue_depth(sqs: Any, queue_url: str) -> int:
    """Visible + in flight + delayed."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


@dataclass
class RecordedRequest:
    method: str
    path: str
    body: dict[str, Any]


class RecordingHandler(BaseHTTPRequestHandler):
    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        server: Any = self.server
        server.requests.append(
            RecordedRequest(self.command, self.path, json.loads(raw) if raw else {})
        )
        status = server.status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def do_PUT(self) -> None:
        self._record()

    def do_POST(self) -> None:
        self._record()

    def log_message(self, format: str, *args: Any) -> None:
        return None


@dataclass
class RecordingServer:
    url: str
    requests: list[RecordedRequest]
    server: Any

    def respond_with(self, status: int) -> None:
        self.server.status = status


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a worker subprocess: this one (moto, table, modules) plus extra."""
    env = {**os.environ, "PYTHONPATH": str(REPO), **(extra or {})}
    return env


def start_worker(queue_url: str, log_path: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    """``python -m runtime.worker`` against the moto server, its log in ``log_path``."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "runtime.worker", "--queue-url", queue_url, *args],
            cwd=REPO,
            env=worker_env(env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def outcomes(log_path: Path) -> list[dict[str, Any]]:
    """The per-message outcome lines of a worker log."""
    lines = []
    for line in log_path.read_text().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("message") == "task message settled":
                lines.append(record)
    return lines


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    status: Callable[[], object] = lambda: "",
) -> None:
    """Poll ``condition``; on timeout, fail with ``status()`` to show how far it got."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}: {status()}")
        time.sleep(0.05)


def create_task_table(dynamodb: Any, name: str) -> None:
    """The shared task table (pk/sk, TTL expires_at) as the CDK side creates it."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )


def use_fake_credentials(monkeypatch: Any) -> None:
    """Dummy credentials and the project's region, for in-process moto."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


def in_process_moto() -> Any:
    """``mock_aws`` that keeps boto3's default session between tests.

    moto's default swaps in a fresh default session per test, so every client re-reads
    botocore's service models (about 0.1 s a service, most of a handler test's time).
    The session holds no AWS state (that lives in moto's backends, reset per test), and
    every test uses the same fake credentials and region.

    A default session created before moto was imported (tests/local's, earlier in the
    full suite) has no moto hook, so its clients would call AWS itself: the first use,
    and any test that swapped the default session since, gets a fresh one.
    """
    import boto3
    from moto import mock_aws

    if boto3.DEFAULT_SESSION is None or boto3.DEFAULT_SESSION is not _MOTO_SESSION.get("s"):
        boto3.setup_default_session()
        _MOTO_SESSION["s"] = boto3.DEFAULT_SESSION
    return mock_aws(config={"core": {"reset_boto3_session": False}})


# The default session in_process_moto made (after moto's import, so with its hook).
_MOTO_SESSION: dict[str, Any] = {}


@contextmanager
def running_consumer(queue: QueuePair, **options: Any) -> Iterator[Callable[[], DrainReport]]:
    """Run a consumer in a thread; yields a function that stops it and returns its report."""
    from runtime.consumer import ConsumerConfig, StopSignal
    from runtime.consumer_factory import build_consumer
    from runtime.settlement import Backoff

    config = ConsumerConfig(
        concurrency=options.pop("concurrency", 2), wait_seconds=1, drain_seconds=10
    )
    consumer = build_consumer(
        queue.url, config=config, backoff=options.pop("backoff", Backoff(1, 2)), **options
    )
    stop = StopSignal()
    reports: list[DrainReport] = []
    thread = threading.Thread(target=lambda: reports.append(consumer.run(stop)), daemon=True)
    thread.start()

    def stop_and_report() -> DrainReport:
        stop.request()
        thread.join(30)
        assert not thread.is_alive()
        return reports[0]

    try:
        yield stop_and_report
    finally:
        stop.request()
        thread.join(30)


def ecs_service(ecs: Any, cluster: str, name: str, *, desired: int) -> None:
    """A Fargate service ``name`` in ``cluster`` (created if absent) on moto's ECS, at
    ``desired`` tasks: moto reports them pending until an update_service."""
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(
        family=name,
        containerDefinitions=[{"name": "worker", "image": "worker:latest", "memory": 512}],
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
    )
    ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=name, desiredCount=desired)
