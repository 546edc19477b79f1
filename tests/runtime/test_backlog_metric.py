"""The backlog metric Lambda against moto's SQS, ECS and CloudWatch (in process).

moto's ECS reports a new service as runningCount 0 and pendingCount = desiredCount;
``update_service(desiredCount=N)`` makes it runningCount N and pendingCount 0. The
tests set up running tasks with ``update_service`` and pending ones with
``create_service``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from runtime.backlog_metric import (
    BACKLOG_PER_TASK,
    IN_FLIGHT_MESSAGES,
    RUNNING_TASKS,
    VISIBLE_MESSAGES,
    WAKE_UP_SIGNAL,
    BacklogTarget,
    ServiceNotFoundError,
    compute_backlog,
    handler,
    publish_backlog,
)
from runtime.errors import ConfigurationError
from runtime.log import logger as runtime_logger
from tests.runtime.helpers import ecs_service, in_process_moto, use_fake_credentials

CLUSTER = "tasks"
ALL_METRICS = (
    BACKLOG_PER_TASK,
    WAKE_UP_SIGNAL,
    VISIBLE_MESSAGES,
    IN_FLIGHT_MESSAGES,
    RUNNING_TASKS,
)


@dataclass
class Worker:
    """A moto SQS queue and ECS service, and the env the handler reads."""

    sqs: Any
    ecs: Any
    cloudwatch: Any
    queue_url: str
    service_name: str

    def send(self, count: int) -> None:
        for index in range(count):
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=f'{{"n": {index}}}')

    def take_in_flight(self, count: int) -> None:
        """Receive ``count`` messages and keep them invisible, as a busy worker does."""
        taken = 0
        while taken < count:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, count - taken),
                VisibilityTimeout=600,
            ).get("Messages", [])
            assert messages, "the queue ran out of messages"
            taken += len(messages)

    def run_tasks(self, count: int) -> None:
        self.ecs.update_service(cluster=CLUSTER, service=self.service_name, desiredCount=count)

    def datapoints(self, metric: str) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        return list(
            self.cloudwatch.get_metric_statistics(
                Namespace="AsyncTasks",
                MetricName=metric,
                Dimensions=[
                    {"Name": "ClusterName", "Value": CLUSTER},
                    {"Name": "ServiceName", "Value": self.service_name},
                ],
                StartTime=now - timedelta(minutes=10),
                EndTime=now + timedelta(minutes=10),
                Period=3600,
                Statistics=["SampleCount", "Minimum", "Maximum", "Sum"],
            )["Datapoints"]
        )

    def published(self, metric: str) -> float:
        """The single value published for ``metric``."""
        (point,) = self.datapoints(metric)
        assert point["SampleCount"] == 1
        return float(point["Maximum"])


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "METRIC_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    use_fake_credentials(monkeypatch)
    with in_process_moto():
        yield


def _make_worker(monkeypatch: pytest.MonkeyPatch, *, desired_count: int) -> Worker:
    sqs, ecs = boto3.client("sqs"), boto3.client("ecs")
    name = f"worker-{uuid.uuid4().hex[:8]}"
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    ecs_service(ecs, CLUSTER, name, desired=desired_count)
    monkeypatch.setenv("QUEUE_URL", queue_url)
    monkeypatch.setenv("CLUSTER_NAME", CLUSTER)
    monkeypatch.setenv("SERVICE_NAME", name)
    return Worker(sqs, ecs, boto3.client("cloudwatch"), queue_url, name)


@pytest.fixture
def worker(aws: None, monkeypatch: pytest.MonkeyPatch) -> Worker:
    """A service created at 0 tasks with an empty queue."""
    return _make_worker(monkeypatch, desired_count=0)


# --- the arithmetic -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("visible", "in_flight", "running", "pending", "backlog", "wake_up"),
    [
        pytest.param(0, 0, 0, 0, 0.0, 0, id="idle-at-zero"),
        pytest.param(0, 0, 3, 0, 0.0, 0, id="drained-with-tasks"),
        pytest.param(7, 0, 0, 0, 7.0, 1, id="backlog-at-zero-tasks"),
        pytest.param(1, 0, 0, 0, 1.0, 1, id="one-message-below-any-target-wakes"),
        pytest.param(0, 4, 2, 0, 2.0, 0, id="in-flight-only-counts"),
        pytest.param(6, 3, 2, 1, 3.0, 0, id="pending-tasks-share-the-backlog"),
        pytest.param(5, 0, 0, 2, 2.5, 0, id="pending-only-is-not-zero-tasks"),
        pytest.param(1, 0, 3, 0, 1 / 3, 0, id="fractional"),
    ],
)
def test_compute_backlog_counts_in_flight_and_pending(
    visible: int, in_flight: int, running: int, pending: int, backlog: float, wake_up: int
) -> None:
    sample = compute_backlog(visible, in_flight, running, pending)

    assert sample.backlog_per_task == pytest.approx(backlog)
    assert sample.wake_up == wake_up
    assert (sample.messages, sample.tasks) == (visible + in_flight, running + pending)


def test_wake_up_does_not_ratchet_when_ecs_is_already_starting_a_task() -> None:
    # Application Auto Scaling repeats a step action every minute while its alarm stays
    # in ALARM ("Using Amazon CloudWatch alarms": "Auto Scaling actions ... are invoked
    # once per minute while the alarm remains in the new state"). With a desired count
    # above 0 and no task running (an image that cannot start), ECS is already trying:
    # raising the signal again would add a task every minute up to the maximum.
    waiting = compute_backlog(5, 0, 0, 0, desired=1)
    assert waiting.wake_up == 0
    assert waiting.backlog_per_task == 5
    assert compute_backlog(5, 0, 0, 0, desired=0).wake_up == 1


def test_compute_backlog_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match=r"must not be negative, got \{'pending': -1\}"):
        compute_backlog(1, 0, 1, -1)


# --- configuration ---------------------------------------------------------------------


def test_target_from_env_names_every_missing_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"QUEUE_URL, SERVICE_NAME not set"):
        BacklogTarget.from_env({"CLUSTER_NAME": "tasks", "SERVICE_NAME": ""})


def test_target_from_env_defaults_the_namespace() -> None:
    env = {"QUEUE_URL": "https://q", "CLUSTER_NAME": "c", "SERVICE_NAME": "s"}

    assert BacklogTarget.from_env(env).namespace == "AsyncTasks"
    assert BacklogTarget.from_env({**env, "METRIC_NAMESPACE": "Mine"}).namespace == "Mine"


def test_handler_fails_before_any_call_when_env_is_missing(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("QUEUE_URL", "CLUSTER_NAME", "SERVICE_NAME"):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(ConfigurationError, match=r"QUEUE_URL, CLUSTER_NAME, SERVICE_NAME"):
        handler({}, None)


# --- against moto -----------------------------------------------------------------------


def test_idle_service_at_zero_still_publishes_zeros(worker: Worker) -> None:
    result = handler({}, None)

    assert result["backlog_per_task"] == 0 and result["wake_up"] == 0
    for metric in ALL_METRICS:
        assert worker.published(metric) == 0, metric


def test_drained_queue_with_running_tasks_publishes_zero_backlog(worker: Worker) -> None:
    worker.run_tasks(3)

    handler({}, None)

    assert worker.published(BACKLOG_PER_TASK) == 0
    assert worker.published(WAKE_UP_SIGNAL) == 0
    assert worker.published(RUNNING_TASKS) == 3


def test_backlog_is_shared_by_running_tasks(worker: Worker) -> None:
    # GIVEN 10 messages, 4 of them in flight, and 4 running tasks
    worker.send(10)
    worker.take_in_flight(4)
    worker.run_tasks(4)

    # WHEN the metric runs
    result = handler({}, None)

    # THEN the backlog per task is (6 + 4) / 4
    assert (result["visible"], result["in_flight"], result["running"]) == (6, 4, 4)
    assert worker.published(BACKLOG_PER_TASK) == pytest.approx(2.5)
    assert worker.published(WAKE_UP_SIGNAL) == 0
    assert worker.published(VISIBLE_MESSAGES) == 6
    assert worker.published(IN_FLIGHT_MESSAGES) == 4
    assert worker.published(RUNNING_TASKS) == 4


def test_busy_service_with_only_in_flight_messages_shows_demand(worker: Worker) -> None:
    worker.send(6)
    worker.take_in_flight(6)
    worker.run_tasks(2)

    handler({}, None)

    assert worker.published(VISIBLE_MESSAGES) == 0
    assert worker.published(BACKLOG_PER_TASK) == 3
    assert worker.published(WAKE_UP_SIGNAL) == 0


def test_messages_with_no_tasks_raise_the_wake_up_signal(worker: Worker) -> None:
    worker.send(3)

    handler({}, None)

    assert worker.published(WAKE_UP_SIGNAL) == 1
    assert worker.published(BACKLOG_PER_TASK) == 3
    assert worker.published(RUNNING_TASKS) == 0


def test_pending_tasks_count_as_capacity(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # moto reports a newly created service's desired tasks as pending, none running.
    worker = _make_worker(monkeypatch, desired_count=2)
    worker.send(4)

    result = handler({}, None)

    assert (result["running"], result["pending"]) == (0, 2)
    assert worker.published(BACKLOG_PER_TASK) == 2
    assert worker.published(WAKE_UP_SIGNAL) == 0


def test_warm_second_invocation_publishes_again_with_fresh_values(worker: Worker) -> None:
    worker.send(5)
    first = handler({}, None)
    worker.run_tasks(5)

    second = handler({}, None)

    assert (first["backlog_per_task"], first["wake_up"]) == (5, 1)
    assert (second["backlog_per_task"], second["wake_up"]) == (1, 0)
    (backlog,) = worker.datapoints(BACKLOG_PER_TASK)
    assert (backlog["SampleCount"], backlog["Minimum"], backlog["Maximum"]) == (2, 1, 5)
    (wake_up,) = worker.datapoints(WAKE_UP_SIGNAL)
    assert (wake_up["SampleCount"], wake_up["Sum"]) == (2, 1)


def test_injected_clients_and_namespace_are_used(worker: Worker) -> None:
    calls: list[dict[str, Any]] = []

    class RecordingCloudWatch:
        def put_metric_data(self, **kwargs: Any) -> None:
            calls.append(kwargs)

    target = BacklogTarget(
        queue_url=worker.queue_url,
        cluster_name=CLUSTER,
        service_name=worker.service_name,
        namespace="Custom",
    )

    publish_backlog(target, sqs=worker.sqs, ecs=worker.ecs, cloudwatch=RecordingCloudWatch())

    (call,) = calls
    assert call["Namespace"] == "Custom"
    units = {datum["MetricName"]: datum["Unit"] for datum in call["MetricData"]}
    assert units == {
        BACKLOG_PER_TASK: "None",
        WAKE_UP_SIGNAL: "None",
        VISIBLE_MESSAGES: "Count",
        IN_FLIGHT_MESSAGES: "Count",
        RUNNING_TASKS: "Count",
    }
    assert worker.datapoints(BACKLOG_PER_TASK) == []


def test_unknown_service_fails_without_publishing(
    worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVICE_NAME", "no-such-service")

    with pytest.raises(ServiceNotFoundError, match=r"'no-such-service' not found in cluster"):
        handler({}, None)

    assert worker.cloudwatch.list_metrics(Namespace="AsyncTasks")["Metrics"] == []


def test_handler_logs_one_structured_json_line_per_run(
    worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    handler({}, None)

    (record,) = [r for r in caplog.records if r.name == runtime_logger.name]
    line = json.loads(runtime_logger.registered_formatter.format(record))
    assert line["message"] == "backlog metric published"
    assert line["service_name"] == worker.service_name
    assert line["backlog_per_task"] == 0 and line["wake_up"] == 0
