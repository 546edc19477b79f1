"""The producer: routing from the environment, batches, size limit, HTTP endpoint."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError

import runtime
from runtime.envelope import MAX_BODY_BYTES, decode
from runtime.errors import (
    EnqueueError,
    EnvelopeTooLargeError,
    EventOnlyTaskError,
    PartialEnqueueError,
    RoutingError,
    UnknownTaskError,
)
from runtime.producer import Producer, enqueue, enqueue_batch, queue_url_env_for
from tests.runtime.helpers import REPO, QueuePair, RecordingServer, receive_all


def test_per_task_queue_variable_wins(
    sqs: Any, make_queue: Callable[..., QueuePair], monkeypatch: pytest.MonkeyPatch
) -> None:
    own, shared = make_queue(), make_queue()
    monkeypatch.setenv("ASYNC_TASKS_QUEUE_URL_GENERATE_REPORT", own.url)
    monkeypatch.setenv("ASYNC_TASKS_QUEUE_URL", shared.url)
    envelope_id = enqueue("generate-report", {"period": "d"}, idempotency_key="report-1")
    (message,) = receive_all(sqs, own.url)
    envelope = decode(message["Body"])
    assert (envelope["id"], envelope["idempotency_key"]) == (envelope_id, "report-1")
    assert receive_all(sqs, shared.url) == []


def test_shared_queue_variable_routes_every_task(
    sqs: Any, make_queue: Callable[..., QueuePair], monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = make_queue()
    monkeypatch.setenv("ASYNC_TASKS_QUEUE_URL", shared.url)
    enqueue("generate-report", {"period": "d"})
    enqueue("send-bulk-email", {"template": "t", "recipients_list": "r"})
    tasks = sorted(decode(m["Body"])["task"] for m in receive_all(sqs, shared.url))
    assert tasks == ["generate-report", "send-bulk-email"]


def test_endpoint_variable_posts_the_envelope(
    aws_env: dict[str, str],
    recording_server: RecordingServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ASYNC_TASKS_ENDPOINT_URL", recording_server.url + "/")
    envelope_id = enqueue("generate-report", {"period": "d"})
    (request,) = recording_server.requests
    assert (request.method, request.path) == ("POST", "/tasks/generate-report")
    assert request.body["id"] == envelope_id
    assert request.body["payload"] == {"period": "d"}


def test_endpoint_refusal_raises(
    aws_env: dict[str, str],
    recording_server: RecordingServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ASYNC_TASKS_ENDPOINT_URL", recording_server.url)
    recording_server.respond_with(503)
    with pytest.raises(EnqueueError, match=r"POST .*/tasks/generate-report returned 503"):
        enqueue("generate-report", {"period": "d"})


def test_no_route_names_every_variable(aws_env: dict[str, str]) -> None:
    with pytest.raises(
        RoutingError,
        match=r"ASYNC_TASKS_QUEUE_URL_GENERATE_REPORT or ASYNC_TASKS_QUEUE_URL .*"
        r"ASYNC_TASKS_ENDPOINT_URL",
    ):
        enqueue("generate-report", {"period": "d"})


def test_unknown_task_is_refused_at_enqueue(
    make_queue: Callable[..., QueuePair], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASYNC_TASKS_QUEUE_URL", make_queue().url)
    with pytest.raises(UnknownTaskError, match=r"cannot enqueue unknown task 'nope'"):
        enqueue("nope", {})


def test_a_consumer_only_task_is_enqueued_by_name_without_importing_its_code(
    sqs: Any, make_queue: Callable[..., QueuePair], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a producer whose environment names a handler module it cannot import (the
    # code lives only on the consumers) and declares the task's name
    queue = make_queue()
    monkeypatch.setenv("ASYNC_TASKS_QUEUE_URL", queue.url)
    monkeypatch.setenv("ASYNC_TASKS_MODULES", "consumer_side.only_handlers")
    monkeypatch.setenv("ASYNC_TASKS_TASK_NAMES", "probe, other-task")
    # WHEN it enqueues the task by name, THEN it is sent (before: the import failed)
    enqueue("probe", {"n": 1})
    assert len(receive_all(sqs, queue.url)) == 1
    assert "consumer_side" not in sys.modules


def test_payload_over_256_kib_is_refused_and_nothing_is_sent(
    sqs: Any, make_queue: Callable[..., QueuePair], monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = make_queue()
    monkeypatch.setenv("ASYNC_TASKS_QUEUE_URL", queue.url)
    with pytest.raises(EnvelopeTooLargeError, match=r"shared SQS queue .* is 1,032,192 bytes"):
        enqueue("generate-report", {"period": "x" * MAX_BODY_BYTES})
    with pytest.raises(EnvelopeTooLargeError):
        enqueue_batch("generate-report", [{"period": "d"}, {"period": "x" * MAX_BODY_BYTES}])
    assert receive_all(sqs, queue.url) == []


def test_batch_is_sent_in_groups_of_ten(
    sqs: Any, make_queue: Callable[..., QueuePair], monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = make_queue()
    calls: Counter[str] = Counter()
    sqs.meta.events.register("before-call.sqs.*", lambda model, **_: calls.update([model.name]))
    producer = Producer(environ={"ASYNC_TASKS_QUEUE_URL": queue.url}, sqs=sqs)
    ids = producer.enqueue_batch("generate-report", [{"period": str(i)} for i in range(25)])
    assert calls == {"SendMessageBatch": 3}
    received = receive_all(sqs, queue.url)
    assert sorted(decode(m["Body"])["id"] for m in received) == sorted(ids)


class _FlakySqs:
    """Fails the given entry ids on the first attempts, like a throttled SendMessageBatch."""

    def __init__(self, failures_per_call: list[set[str]], sender_fault: bool = False) -> None:
        self.failures = failures_per_call
        self.sender_fault = sender_fault
        self.calls: list[list[str]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:  # noqa: N803
        ids = [entry["Id"] for entry in Entries]
        self.calls.append(ids)
        failing = self.failures.pop(0) if self.failures else set()
        return {
            "Successful": [{"Id": i} for i in ids if i not in failing],
            "Failed": [
                {"Id": i, "SenderFault": self.sender_fault, "Code": "InternalError"}
                for i in ids
                if i in failing
            ],
        }


def test_partial_batch_failures_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("runtime.producer.time.sleep", lambda seconds: None)
    flaky = _FlakySqs([{"3", "7"}])
    producer = Producer(environ={"ASYNC_TASKS_QUEUE_URL": "q"}, sqs=flaky)
    producer.enqueue_batch("generate-report", [{"period": str(i)} for i in range(10)])
    assert flaky.calls == [[str(i) for i in range(10)], ["3", "7"]]


def test_entries_that_keep_failing_raise_with_their_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("runtime.producer.time.sleep", lambda seconds: None)
    flaky = _FlakySqs([{"1"}, {"1"}, {"1"}])
    producer = Producer(environ={"ASYNC_TASKS_QUEUE_URL": "q"}, sqs=flaky)
    with pytest.raises(PartialEnqueueError, match=r"after 1 of 2 payloads") as raised:
        producer.enqueue_batch(
            "generate-report", [{"period": "a"}, {"period": "b"}], idempotency_keys=["a", "b"]
        )
    assert len(flaky.calls) == 3
    assert (len(raised.value.sent), len(raised.value.not_sent), raised.value.unknown) == (1, 1, [])
    ((index, key, status),) = [(p.index, p.idempotency_key, p.status) for p in raised.value.failed]
    assert (index, key, status) == (1, "b", "not_sent")


def test_sender_faults_are_not_retried() -> None:
    flaky = _FlakySqs([{"0"}], sender_fault=True)
    producer = Producer(environ={"ASYNC_TASKS_QUEUE_URL": "q"}, sqs=flaky)
    with pytest.raises(EnqueueError):
        producer.enqueue_batch("generate-report", [{"period": "a"}])
    assert len(flaky.calls) == 1


def test_per_task_variable_name_matches_the_stack_outputs() -> None:
    assert queue_url_env_for("generate-report") == "ASYNC_TASKS_QUEUE_URL_GENERATE_REPORT"


def test_public_surface_resolves() -> None:
    for name in runtime.__all__:
        assert getattr(runtime, name) is not None
    with pytest.raises(AttributeError):
        _ = runtime.nope  # type: ignore[attr-defined]


def test_importing_the_catalogue_loads_neither_boto3_nor_aws_cdk() -> None:
    code = (
        "import sys, runtime.catalogue; "
        "print(json.dumps(sorted(m for m in ('boto3', 'aws_cdk', 'aws_lambda_powertools') "
        "if m in sys.modules)))"
    )
    output = subprocess.run(
        [sys.executable, "-c", "import json; " + code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(output) == []


def test_runtime_package_never_imports_aws_cdk() -> None:
    cdk_import = re.compile(r"^\s*(import|from) aws_cdk", re.MULTILINE)
    offenders = [
        str(path.relative_to(REPO))
        for path in (REPO / "runtime").rglob("*.py")
        if cdk_import.search(path.read_text())
    ]
    assert offenders == []


@pytest.mark.parametrize("task", ["virus-scan-result", "email-feedback"])
def test_event_only_tasks_are_refused_naming_the_task_and_why(
    make_queue: Callable[..., QueuePair], monkeypatch: pytest.MonkeyPatch, task: str
) -> None:
    monkeypatch.setenv("ASYNC_TASKS_QUEUE_URL", make_queue().url)
    with pytest.raises(EventOnlyTaskError, match=rf"'{task}'.*only trigger is the AWS event"):
        enqueue(task, {})


def test_batch_idempotency_keys_travel_with_their_envelopes(
    sqs: Any, make_queue: Callable[..., QueuePair], monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = make_queue()
    monkeypatch.setenv("ASYNC_TASKS_QUEUE_URL", queue.url)
    ids = enqueue_batch(
        "generate-report", [{"period": "a"}, {"period": "b"}], idempotency_keys=["k-a", None]
    )
    keys = {
        decode(m["Body"])["id"]: decode(m["Body"]).get("idempotency_key")
        for m in receive_all(sqs, queue.url)
    }
    assert keys == {ids[0]: "k-a", ids[1]: None}
    with pytest.raises(ValueError, match=r"2 payloads but 1 idempotency keys"):
        enqueue_batch("generate-report", [{}, {}], idempotency_keys=["k"])


def test_a_network_error_part_way_names_what_was_sent_and_what_was_not(
    sqs: Any, make_queue: Callable[..., QueuePair], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a real queue and a client whose second SendMessageBatch times out in flight
    queue = make_queue()
    calls: list[int] = []

    def second_call_times_out(request: Any, **_: Any) -> None:
        calls.append(1)
        if len(calls) >= 2:
            raise ReadTimeoutError(endpoint_url=request.url)

    flaky = boto3.client("sqs", config=Config(retries={"mode": "standard", "max_attempts": 1}))
    flaky.meta.events.register("before-send.sqs.SendMessageBatch", second_call_times_out)
    producer = Producer(environ={"ASYNC_TASKS_QUEUE_URL": queue.url}, sqs=flaky)
    keys = [f"key-{i}" for i in range(25)]
    # WHEN a batch of 25 (three calls) is sent
    with pytest.raises(PartialEnqueueError) as raised:
        producer.enqueue_batch(
            "generate-report", [{"period": k} for k in keys], idempotency_keys=keys
        )
    # THEN the error names the 10 sent, the 10 in flight (unknown) and the 5 never sent
    error = raised.value
    assert (len(error.sent), len(error.unknown), len(error.not_sent)) == (10, 10, 5)
    on_queue = {decode(m["Body"])["id"] for m in receive_all(sqs, queue.url)}
    assert on_queue == set(error.sent)
    assert set(error.sent).isdisjoint(error.unknown + error.not_sent)
    # ... each failed payload by its index in the input and its key
    assert [(p.index, p.idempotency_key, p.status) for p in error.failed] == [
        (i, f"key-{i}", "unknown" if i < 20 else "not_sent") for i in range(10, 25)
    ]
    assert "20 (key 'key-20', not sent)" in str(error)
