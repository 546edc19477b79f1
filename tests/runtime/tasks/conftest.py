"""Fixtures for the task handler tests: in-process moto with the real table and bucket.

In-process ``mock_aws`` (not the session's moto server) keeps the large-file tests
fast; every test starts with empty AWS. The names are stable for every handler test:

* ``aws`` — moto active, fake credentials, no runtime variables left over;
* ``task_bucket`` — the versioned task bucket, named as in the GuardDuty samples and
  exported as ``ASYNC_TASKS_BUCKET``;
* ``task_table`` — the task table with the real key schema (``pk``/``sk``, TTL
  ``expires_at``) as a boto3 ``Table`` resource, exported as ``ASYNC_TASKS_TABLE``;
* ``task_queue`` — the shared queue, exported as ``ASYNC_TASKS_QUEUE_URL`` so the
  producer routes there; ``drain_queue()`` returns and deletes its bodies;
* ``dispatch`` — ``dispatch(body, attempt=1)`` through the real dispatcher and ledger,
  as the worker runs it; ``envelope_body`` makes a body; ``scan_event`` loads a
  GuardDuty sample from tests/events/.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from typing import Any, Literal

import boto3
import pytest

from runtime.dispatcher import Dispatcher, DispatchResult
from runtime.envelope import encode, new_envelope
from runtime.idempotency import DynamoDBLedger
from runtime.registry import Registry
from tests.runtime.helpers import (
    REGION,
    create_task_table,
    in_process_moto,
    load_event,
    use_fake_credentials,
)

SAMPLE_BUCKET = "property-uploads"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in [n for n in os.environ if n.startswith(("ASYNC_TASKS_", "AWS_ENDPOINT_URL"))]:
        monkeypatch.delenv(name)
    for name in ("TASK_NAME", "ECS_AGENT_URI", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    use_fake_credentials(monkeypatch)
    with in_process_moto():
        yield


@functools.cache
def _client(service: Literal["dynamodb", "s3", "sqs"]) -> Any:
    """One client per service for the session, as the runtime caches its own.

    Creating a client costs 5-10 ms, on every test; a client holds no AWS state (that
    is moto's backends, empty at each test) and every test has the same credentials.
    """
    return boto3.client(service)


@pytest.fixture
def s3_client(aws: None) -> Any:
    return _client("s3")


@pytest.fixture
def ddb_client(aws: None) -> Any:
    return _client("dynamodb")


@pytest.fixture
def task_bucket(s3_client: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    s3_client.create_bucket(
        Bucket=SAMPLE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    s3_client.put_bucket_versioning(
        Bucket=SAMPLE_BUCKET, VersioningConfiguration={"Status": "Enabled"}
    )
    monkeypatch.setenv("ASYNC_TASKS_BUCKET", SAMPLE_BUCKET)
    return SAMPLE_BUCKET


@pytest.fixture
def task_table(ddb_client: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    name = "async-tasks"
    create_task_table(ddb_client, name)
    monkeypatch.setenv("ASYNC_TASKS_TABLE", name)
    return boto3.resource("dynamodb").Table(name)


@pytest.fixture
def task_queue(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    url = str(_client("sqs").create_queue(QueueName="async-tasks")["QueueUrl"])
    monkeypatch.setenv("ASYNC_TASKS_QUEUE_URL", url)
    return url


@pytest.fixture
def drain_queue(task_queue: str) -> Callable[[], list[str]]:
    """Receive and delete every visible message; returns the bodies."""
    sqs = _client("sqs")

    def drain() -> list[str]:
        bodies: list[str] = []
        while batch := sqs.receive_message(QueueUrl=task_queue, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in batch:
                bodies.append(message["Body"])
                sqs.delete_message(QueueUrl=task_queue, ReceiptHandle=message["ReceiptHandle"])
        return bodies

    return drain


@pytest.fixture
def dispatch(task_table: Any, ddb_client: Any) -> Callable[..., DispatchResult]:
    """Run a body as the worker does: catalogue handlers, validators and the ledger."""
    dispatcher = Dispatcher(
        Registry.from_env(os.environ), DynamoDBLedger(ddb_client, task_table.name)
    )

    def run(body: str, *, attempt: int = 1) -> DispatchResult:
        return dispatcher.dispatch(body, attempt=attempt)

    return run


@pytest.fixture
def envelope_body() -> Callable[..., str]:
    def make(task: str, payload: dict[str, Any], idempotency_key: str | None = None) -> str:
        return encode(new_envelope(task, payload, idempotency_key=idempotency_key))

    return make


@pytest.fixture
def scan_event() -> Callable[..., dict[str, Any]]:
    """A GuardDuty sample from tests/events/, with the object details overridden."""

    def make(name: str, **object_details: Any) -> dict[str, Any]:
        event = load_event(name)
        event["detail"]["s3ObjectDetails"].update(object_details)
        return event

    return make


@pytest.fixture
def batch_written_keys() -> Iterator[list[str]]:
    """Every ``pk`` sent in a BatchWriteItem by clients created during the test."""
    keys: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        for requests in params.get("RequestItems", {}).values():
            for request in requests:
                if "PutRequest" in request:
                    pk = request["PutRequest"]["Item"]["pk"]
                    # The resource API converts to {"S": ...} only after this event.
                    keys.append(pk if isinstance(pk, str) else pk["S"])

    session = boto3._get_default_session()
    session.events.register("provide-client-params.dynamodb.BatchWriteItem", record)
    yield keys
    session.events.unregister("provide-client-params.dynamodb.BatchWriteItem", record)
