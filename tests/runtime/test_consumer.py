"""The shared queue loop, run in-process against the moto server."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from runtime.consumer import ConsumerConfig, DrainReport
from runtime.dispatcher import DispatchResult, Outcome
from runtime.envelope import encode, new_envelope
from runtime.errors import ConfigurationError, PayloadValidationError
from runtime.protection import ScaleInProtection
from runtime.settlement import Backoff, DeadLetterRouter, Message
from tests.runtime.helpers import (
    QueuePair,
    RecordingServer,
    queue_depth,
    receive_all,
    wait_until,
)
from tests.runtime.helpers import (
    running_consumer as _running,
)
from tests.runtime.probe_tasks import counter


def _send(sqs: Any, queue: QueuePair, *payloads: dict[str, Any]) -> list[str]:
    envelopes = [new_envelope("probe", {"n": i, **p}) for i, p in enumerate(payloads)]
    for envelope in envelopes:
        sqs.send_message(QueueUrl=queue.url, MessageBody=encode(envelope))
    return [envelope["id"] for envelope in envelopes]


def _applications(dynamodb: Any, table: str) -> Callable[[], int]:
    return lambda: counter(dynamodb, table, "applications")


@pytest.mark.slow  # long: a consumer thread on the moto server; stopping it waits out its long poll
def test_poison_message_goes_to_dlq_with_reason(
    sqs: Any, make_queue: Callable[..., QueuePair], probe_env: str
) -> None:
    queue = make_queue()
    sqs.send_message(QueueUrl=queue.url, MessageBody="{not json")
    with _running(queue) as stop:
        wait_until(lambda: queue_depth(sqs, queue.dlq_url) == 1, 20, "the DLQ to get it")
        stop()
    (dead,) = receive_all(sqs, queue.dlq_url)
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert dead["Body"] == "{not json"
    assert attributes["failure_type"] == "InvalidEnvelopeError"
    assert attributes["failure_reason"].startswith("InvalidEnvelopeError: body is not JSON")
    assert attributes["receive_count"] == "1"  # at once, not after maxReceiveCount
    assert attributes["original_message_id"]
    assert queue_depth(sqs, queue.url) == 0


@pytest.mark.slow  # long: waits out a real backoff or visibility timeout (2-4 s)
def test_transient_failure_is_retried_after_a_backoff_then_succeeds(
    sqs: Any, dynamodb: Any, make_queue: Callable[..., QueuePair], probe_env: str
) -> None:
    queue = make_queue()
    _send(sqs, queue, {"fail_attempts": 1})
    with _running(queue) as stop:
        wait_until(lambda: _applications(dynamodb, probe_env)() == 1, 20, "the retry")
        stop()
    assert queue_depth(sqs, queue.url) == 0
    assert counter(dynamodb, probe_env, "doubles") == 0


@pytest.mark.slow  # long: waits out a real backoff or visibility timeout (2-4 s)
def test_failing_message_is_redriven_to_the_dlq_by_max_receive_count(
    sqs: Any, make_queue: Callable[..., QueuePair], probe_env: str
) -> None:
    queue = make_queue(max_receive_count=2)
    _send(sqs, queue, {"fail_attempts": 99})
    with _running(queue, backoff=Backoff(0, 0)) as stop:
        wait_until(lambda: queue_depth(sqs, queue.dlq_url) == 1, 20, "the redrive")
        stop()
    assert queue_depth(sqs, queue.url) == 0


@pytest.mark.slow  # long: waits out a real backoff or visibility timeout (2-4 s)
def test_heartbeat_extends_visibility_of_a_long_task(
    sqs: Any, dynamodb: Any, make_queue: Callable[..., QueuePair], probe_env: str
) -> None:
    # GIVEN a 2 s visibility timeout and a task that runs 3.5 s (within its 4 s maximum)
    queue = make_queue(visibility_timeout=2)
    _send(sqs, queue, {"sleep": 3.5})
    with _running(queue) as stop:
        wait_until(lambda: counter(dynamodb, probe_env, "slow-started#" + _pid()) == 1, 10, "start")
        # WHEN another consumer polls while it runs
        stolen = sqs.receive_message(QueueUrl=queue.url, WaitTimeSeconds=3).get("Messages", [])
        wait_until(lambda: _applications(dynamodb, probe_env)() == 1, 20, "the task")
        stop()
    # THEN it never saw the message, and the task ran once
    assert stolen == []
    assert queue_depth(sqs, queue.url) == 0


def _pid() -> str:
    import os

    return str(os.getpid())


@pytest.mark.slow  # long: real concurrent tasks against the moto server (2+ s)
def test_settled_messages_are_deleted_in_batches(
    sqs: Any, dynamodb: Any, make_queue: Callable[..., QueuePair], probe_env: str
) -> None:
    queue = make_queue()
    calls: Counter[str] = Counter()
    sqs.meta.events.register("before-call.sqs.*", lambda model, **_: calls.update([model.name]))
    _send(sqs, queue, *[{} for _ in range(20)])
    calls.clear()
    with _running(queue, sqs=sqs, concurrency=10) as stop:
        wait_until(lambda: _applications(dynamodb, probe_env)() == 20, 30, "20 tasks")
        wait_until(lambda: queue_depth(sqs, queue.url) == 0, 10, "the deletes")
        stop()
    assert calls["DeleteMessage"] == 0
    assert 2 <= calls["DeleteMessageBatch"] < 20


@pytest.mark.slow  # long: real concurrent tasks against the moto server (2+ s)
def test_a_busy_consumer_leaves_the_messages_it_cannot_start_visible(
    sqs: Any, dynamodb: Any, make_queue: Callable[..., QueuePair], probe_env: str
) -> None:
    # GIVEN one thread and two 2 s tasks (visibility 60 s)
    queue = make_queue(visibility_timeout=60)
    _send(sqs, queue, {"sleep": 2}, {"sleep": 2})
    with _running(queue, concurrency=1) as stop:
        wait_until(lambda: counter(dynamodb, probe_env, "slow-started#" + _pid()) == 1, 10, "start")
        # THEN while it runs one, the other stays visible to any idle consumer
        # (head-of-line blocking: before, it sat in hand for the whole first task)
        visible = sqs.get_queue_attributes(
            QueueUrl=queue.url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        assert visible == "1"
        # WHEN it stops
        report = stop()
    # THEN the running task finished, nothing had to be released, and the other is receivable
    assert report == DrainReport(released=0, abandoned=0)
    assert _applications(dynamodb, probe_env)() == 1
    assert len(receive_all(sqs, queue.url)) == 1


@pytest.mark.slow  # long: real concurrent tasks against the moto server (2+ s)
def test_scale_in_protection_is_held_while_busy_and_dropped_when_idle(
    sqs: Any,
    dynamodb: Any,
    make_queue: Callable[..., QueuePair],
    probe_env: str,
    recording_server: RecordingServer,
) -> None:
    queue = make_queue()
    _send(sqs, queue, {}, {})
    protection = ScaleInProtection(recording_server.url, expires_minutes=30)
    with _running(queue, protection=protection) as stop:
        wait_until(lambda: _applications(dynamodb, probe_env)() == 2, 20, "the tasks")
        wait_until(lambda: len(recording_server.requests) >= 2, 10, "the release")
        stop()
    first, second = recording_server.requests[:2]
    assert (first.method, first.path) == ("PUT", "/task-protection/v1/state")
    assert first.body == {"ProtectionEnabled": True, "ExpiresInMinutes": 30}
    assert second.body == {"ProtectionEnabled": False}


def test_scale_in_protection_is_a_no_op_without_ecs_agent_uri(
    recording_server: RecordingServer,
) -> None:
    protection = ScaleInProtection.from_env({})
    protection.hold()
    protection.release()
    assert not protection.enabled
    assert recording_server.requests == []


def test_scale_in_protection_rejects_an_expiry_ecs_would_refuse() -> None:
    with pytest.raises(ValueError, match=r"1..2880"):
        ScaleInProtection("http://agent", expires_minutes=2881)


def test_dlq_url_override_wins_over_the_redrive_policy(
    sqs: Any, make_queue: Callable[..., QueuePair]
) -> None:
    queue, other = make_queue(), make_queue()
    assert DeadLetterRouter(sqs).url_for(queue.url) == queue.dlq_url
    assert (
        DeadLetterRouter.from_env(sqs, {"ASYNC_TASKS_DLQ_URL": other.url}).url_for(queue.url)
        == other.url
    )


def test_queue_without_a_dlq_retries_instead_of_dropping(
    sqs: Any, probe_env: str, aws_env: dict[str, str]
) -> None:
    from runtime.settlement import Settler

    url = sqs.create_queue(QueueName="no-dlq-" + _pid(), Attributes={"VisibilityTimeout": "30"})[
        "QueueUrl"
    ]
    with pytest.raises(ConfigurationError, match=r"no RedrivePolicy"):
        DeadLetterRouter(sqs).url_for(url)
    sqs.send_message(QueueUrl=url, MessageBody="{bad")
    raw = sqs.receive_message(
        QueueUrl=url, MessageSystemAttributeNames=["ApproximateReceiveCount"]
    )["Messages"][0]
    result = DispatchResult(Outcome.DEAD_LETTER, None, PayloadValidationError("bad"))
    settler = Settler(sqs, DeadLetterRouter(sqs), Backoff(0, 0))
    assert settler.settle(Message.from_api(url, raw), result, 1.0) is False
    assert len(receive_all(sqs, url)) == 1  # made visible again (backoff 0), not lost


def test_backoff_is_exponential_in_the_receive_count_and_capped() -> None:
    backoff = Backoff(base_seconds=5, max_seconds=60)
    assert [backoff.delay(n) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]
    assert Backoff(5, 10**9).delay(1000) == 43_200  # SQS's maximum visibility


def test_consumer_settings_are_validated_together() -> None:
    with pytest.raises(ValueError, match=r"concurrency is 0.*wait_seconds is 21"):
        ConsumerConfig(concurrency=0, wait_seconds=21)
