"""Shared fixtures: a moto server (a real SQS and DynamoDB endpoint) and factories.

The server runs as a subprocess for the whole session, on a free port, so worker
subprocesses can share it; each test gets its own queues and table (unique names)
instead of a reset, so nothing carries over between tests.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.runtime.helpers import (
    PROBE_MODULE,
    REGION,
    QueuePair,
    RecordingHandler,
    RecordingServer,
    create_task_table,
    load_event,
    receive_all,
)

_ROUTING_AND_RUNTIME_VARS = (
    "ASYNC_TASKS_QUEUE_URL",
    "ASYNC_TASKS_ENDPOINT_URL",
    "ASYNC_TASKS_TABLE",
    "ASYNC_TASKS_MODULES",
    "ASYNC_TASKS_TASK_NAMES",
    "ASYNC_TASKS_DLQ_URL",
    "ASYNC_TASKS_IDEMPOTENCY",
    "TASK_NAME",
    "ECS_AGENT_URI",
    "ASYNC_TASKS_WAKER_FUNCTION",
    "AWS_ENDPOINT_URL_LAMBDA",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    port = _free_port()
    moto_server = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(moto_server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).read()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point boto3 at the moto server and clear every runtime variable."""
    for name in _ROUTING_AND_RUNTIME_VARS:
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("ASYNC_TASKS_QUEUE_URL_")]:
        monkeypatch.delenv(name)
    values = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def sqs(aws_env: dict[str, str]) -> Any:
    return boto3.client("sqs")


@pytest.fixture
def dynamodb(aws_env: dict[str, str]) -> Any:
    return boto3.client("dynamodb")


@pytest.fixture
def make_queue(sqs: Any) -> Callable[..., QueuePair]:
    """A queue with a DLQ (redrive after ``max_receive_count``), uniquely named."""

    def make(*, visibility_timeout: int = 30, max_receive_count: int = 5) -> QueuePair:
        name = f"q-{uuid.uuid4().hex[:12]}"
        dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        url = sqs.create_queue(
            QueueName=name,
            Attributes={
                "VisibilityTimeout": str(visibility_timeout),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
                ),
            },
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return QueuePair(url=url, dlq_url=dlq_url, arn=arn)

    return make


@pytest.fixture
def table(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The shared task table (pk/sk, TTL expires_at) as the CDK side creates it."""
    name = f"tasks-{uuid.uuid4().hex[:12]}"
    create_task_table(dynamodb, name)
    monkeypatch.setenv("ASYNC_TASKS_TABLE", name)
    return name


@pytest.fixture
def probe_env(table: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Register the probe task (a test module) the way a deployer would.

    Consumers import the module; producers only need the task's name.
    """
    monkeypatch.setenv("ASYNC_TASKS_MODULES", PROBE_MODULE)
    monkeypatch.setenv("ASYNC_TASKS_TASK_NAMES", "probe")
    return table


@pytest.fixture
def sqs_event() -> Callable[..., dict[str, Any]]:
    """An SQS Lambda event (from tests/events/sqs_batch.json) carrying ``bodies``.

    Each entry is a body, or (body, receipt handle, receive count) for real messages.
    """

    def make(queue: QueuePair, messages: list[tuple[str, str, int]]) -> dict[str, Any]:
        template = load_event("sqs_batch.json")["Records"][0]
        records = []
        for index, (body, receipt_handle, receive_count) in enumerate(messages):
            record = json.loads(json.dumps(template))
            record["messageId"] = f"msg-{index}"
            record["receiptHandle"] = receipt_handle
            record["body"] = body
            record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
            record["eventSourceARN"] = queue.arn
            records.append(record)
        return {"Records": records}

    return make


@pytest.fixture
def recording_server() -> Iterator[RecordingServer]:
    """A local HTTP server on 127.0.0.1 that records requests (ECS agent, task endpoint)."""
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), RecordingHandler)
    server.requests = []
    server.status = 200
    # shutdown() waits for serve_forever's next poll: 0.5 s by default, on every test
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield RecordingServer(f"http://127.0.0.1:{server.server_port}", server.requests, server)
    server.shutdown()
    server.server_close()


@pytest.fixture
def delivered(sqs: Any, sqs_event: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Send bodies to the queue, receive them (real receipt handles), wrap them in an event."""

    def deliver(queue: QueuePair, bodies: list[str]) -> dict[str, Any]:
        for body in bodies:
            sqs.send_message(QueueUrl=queue.url, MessageBody=body)
        received = receive_all(sqs, queue.url)
        by_body = {m["Body"]: m for m in received}
        return sqs_event(
            queue,
            [
                (
                    body,
                    by_body[body]["ReceiptHandle"],
                    int(by_body[body]["Attributes"]["ApproximateReceiveCount"]),
                )
                for body in bodies
            ],
        )

    return deliver


@pytest.fixture
def probe_function(probe_env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A function deployed for the probe task, as TaskFunctions configures it."""
    monkeypatch.setenv("TASK_NAME", "probe")
    return probe_env
