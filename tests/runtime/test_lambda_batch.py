"""The Lambda handler with real SQS event shapes (tests/events/) and moto's SQS."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from runtime import lambda_batch
from runtime.envelope import encode, new_envelope
from runtime.errors import ConfigurationError
from tests.runtime.helpers import EVENTS, REGION, QueuePair, queue_depth, receive_all
from tests.runtime.probe_tasks import counter

Event = dict[str, Any]


def _probe(**payload: Any) -> str:
    return encode(new_envelope("probe", {"n": 1, **payload}))


def test_only_transient_failures_are_reported_in_batch_item_failures(
    sqs: Any,
    dynamodb: Any,
    make_queue: Callable[..., QueuePair],
    delivered: Callable[..., Event],
    probe_function: str,
) -> None:
    queue = make_queue()
    event = delivered(queue, [_probe(), _probe(fail_attempts=1), _probe()])
    response = lambda_batch.handler(event, None)
    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    assert counter(dynamodb, probe_function, "applications") == 2


def test_poison_records_go_to_the_dlq_and_are_reported_as_done(
    sqs: Any,
    make_queue: Callable[..., QueuePair],
    delivered: Callable[..., Event],
    probe_function: str,
) -> None:
    queue = make_queue()
    poison = ["{oops", _probe(permanent=True), encode(new_envelope("probe", {"n": "x"}))]
    response = lambda_batch.handler(delivered(queue, poison), None)
    assert response == {"batchItemFailures": []}
    dead = receive_all(sqs, queue.dlq_url)
    assert sorted(m["Body"] for m in dead) == sorted(poison)
    assert {m["MessageAttributes"]["failure_type"]["StringValue"] for m in dead} == {
        "InvalidEnvelopeError",
        "PermanentTaskError",
        "PayloadValidationError",
    }


def test_message_for_another_task_is_dead_lettered(
    sqs: Any,
    make_queue: Callable[..., QueuePair],
    delivered: Callable[..., Event],
    probe_function: str,
) -> None:
    queue = make_queue()
    body = (EVENTS / "scheduler_generate_report.json").read_text()
    assert lambda_batch.handler(delivered(queue, [body]), None) == {"batchItemFailures": []}
    (dead,) = receive_all(sqs, queue.dlq_url)
    assert dead["MessageAttributes"]["failure_type"]["StringValue"] == "MisroutedTaskError"


@pytest.mark.parametrize(
    ("task", "sample"),
    [
        ("generate-report", "scheduler_generate_report.json"),
        ("virus-scan-result", "eventbridge_virus_scan_result.json"),
    ],
)
def test_infrastructure_envelopes_run_the_catalogue_handlers(
    sqs: Any,
    aws_env: dict[str, str],
    make_queue: Callable[..., QueuePair],
    delivered: Callable[..., Event],
    table: str,
    monkeypatch: pytest.MonkeyPatch,
    task: str,
    sample: str,
) -> None:
    # GIVEN the uploads bucket the samples name, as the stacks configure it
    s3 = boto3.client("s3")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(
            Bucket="property-uploads", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
    monkeypatch.setenv("ASYNC_TASKS_BUCKET", "property-uploads")
    monkeypatch.setenv("TASK_NAME", task)
    queue = make_queue()
    body = json.dumps(json.loads((EVENTS / sample).read_text()))
    assert lambda_batch.handler(delivered(queue, [body]), None) == {"batchItemFailures": []}
    assert queue_depth(sqs, queue.dlq_url) == 0


def test_warm_invocations_share_no_state(
    dynamodb: Any,
    make_queue: Callable[..., QueuePair],
    delivered: Callable[..., Event],
    probe_function: str,
) -> None:
    queue = make_queue()
    first = lambda_batch.handler(delivered(queue, [_probe(fail_attempts=1), _probe()]), None)
    second = lambda_batch.handler(delivered(queue, [_probe(), _probe()]), None)
    assert first == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    assert second == {"batchItemFailures": []}
    assert counter(dynamodb, probe_function, "applications") == 3


def test_redelivered_record_is_a_duplicate_not_a_second_run(
    dynamodb: Any,
    make_queue: Callable[..., QueuePair],
    delivered: Callable[..., Event],
    sqs_event: Callable[..., Event],
    probe_function: str,
) -> None:
    queue = make_queue()
    body = _probe()
    lambda_batch.handler(delivered(queue, [body]), None)
    assert lambda_batch.handler(delivered(queue, [body]), None) == {"batchItemFailures": []}
    assert counter(dynamodb, probe_function, "applications") == 1


def test_handler_refuses_to_run_without_task_name(probe_env: str) -> None:
    with pytest.raises(ConfigurationError, match=r"TASK_NAME is not set"):
        lambda_batch.handler({"Records": []}, None)
