"""worker-service wakes on enqueue, run as the user runs it (``scripts/local-deploy``),
and against a service whose image cannot start.

- The first message wakes the service through the waker, with simulated minutes of
  600 s so the backlog metric's alarm cannot be what woke it.
- ``-c wakeOnEnqueue=false`` leaves the alarm to wake it.
- A stream through wake, scale-out, drain and scale-in: the desired count (read with
  DescribeServices all along) never exceeds what target tracking asked for, the waker
  only ever sets 0 -> 1, and with no more work it goes back to 0 and stays there.
- An image that cannot start (a real local server plays ECS: tests/local/failing_ecs.py)
  is woken once, however often it is nudged: no faster than the alarm's fallback.
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import boto3
import pytest

from local.entrypoints import invoke
from local.lambda_endpoint import LocalLambdaEndpoint
from local.scaling import deployed_worker_service
from runtime.contract import WAKER_HANDLER
from tests.local.failing_ecs import FailingEcs, FailingService
from tests.local.test_one_command import (
    Running,
    enqueue_from_another_shell,
    launch,  # noqa: F401  # the fixture
    report_keys,
    start,
    stop_cleanly,
)

pytestmark = pytest.mark.slow

WAKER_LINE = "waker: nudged (the producer): desired 0 -> 1"
DECISION = re.compile(r"-> desired (\d+) by (.+)$")


def _client(exports: dict[str, str], service: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=exports["AWS_ENDPOINT_URL"],
        region_name=exports["AWS_REGION"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


class ServiceWatch:
    """The worker service's desired count, read with DescribeServices every 0.1 s."""

    def __init__(self, exports: dict[str, str]) -> None:
        self.cluster, self.service = deployed_worker_service(
            _client(exports, "cloudformation"), "AsyncTasks-WorkerService"
        )
        self.ecs = _client(exports, "ecs")
        self.seen: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def desired(self) -> int:
        (found,) = self.ecs.describe_services(cluster=self.cluster, services=[self.service])[
            "services"
        ]
        return int(found["desiredCount"])

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.seen.append(self.desired())
            time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def _report(running: Running) -> None:
    today = time.strftime("%Y-%m-%d")
    enqueue_from_another_shell(running.exports, "generate-report", {"from": today, "to": today})
    prefix = f"reports/{today}_{today}/"
    deadline = time.monotonic() + 60
    while len(report_keys(running.exports, prefix)) < 2:
        assert time.monotonic() < deadline, running.output[-4000:]
        time.sleep(0.2)


def test_the_first_message_wakes_the_service_through_the_waker(launch) -> None:  # noqa: F811
    # GIVEN worker-service at zero, its alarm path minutes away (600 s simulated minutes)
    running = start(launch, "worker-service", "--minute-seconds", "600")
    assert running.exports["AWS_ENDPOINT_URL_LAMBDA"].startswith("http://127.0.0.1:")
    watch = ServiceWatch(running.exports)
    assert watch.desired() == 0
    # WHEN another shell enqueues one report; THEN the waker woke it and the report ran
    _report(running)
    watch.stop()
    assert WAKER_LINE in running.output, running.output[-4000:]
    assert "by wake-up alarm" not in running.output
    assert max(watch.seen) == 1
    stop_cleanly(running)


def test_without_wake_on_enqueue_the_alarm_wakes_it(launch) -> None:  # noqa: F811
    running = start(launch, "worker-service", "--minute-seconds", "1", "-c", "wakeOnEnqueue=false")
    assert "AWS_ENDPOINT_URL_LAMBDA" not in running.exports
    assert "ASYNC_TASKS_WAKER_FUNCTION" not in running.exports
    _report(running)
    running.wait_for("by wake-up alarm", 5)
    assert "waker:" not in running.output
    stop_cleanly(running)


def test_a_stream_never_takes_the_count_above_what_target_tracking_asks(launch) -> None:  # noqa: F811
    # GIVEN worker-service with one-second minutes (target tracking: 3 datapoints out, 15
    # in, its 300 s scale-in cooldown in simulated time)
    running = start(launch, "worker-service", "--minute-seconds", "1")
    watch = ServiceWatch(running.exports)
    sqs = _client(running.exports, "sqs")
    queue = running.exports["ASYNC_TASKS_QUEUE_URL"]
    today = time.strftime("%Y-%m-%d")
    payload = {"from": today, "to": today}
    # WHEN a burst arrives and this test holds most of it in flight (as busy workers
    # would) long enough for target tracking to scale out, while a trickle continues
    for _ in range(6):
        enqueue_from_another_shell(running.exports, "generate-report", payload)
    held: list[str] = []
    body = json.dumps({"task": "generate-report"})
    for _ in range(6):
        sqs.send_message_batch(
            QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": body} for i in range(10)]
        )
    while len(held) < 50:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=120)
        held += [m["ReceiptHandle"] for m in got.get("Messages", [])]
    running.wait_for("by target tracking scale-out", 30)
    for _ in range(3):
        enqueue_from_another_shell(running.exports, "generate-report", payload)
        time.sleep(1)
    # THEN the burst drains and it scales in to zero, and stays there without work
    for handle in held:
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=handle)
    deadline = time.monotonic() + 90
    while watch.desired() != 0:
        assert time.monotonic() < deadline, running.output[-4000:]
        time.sleep(0.5)
    time.sleep(5)
    watch.stop()
    decisions = [m.groups() for line in running.lines if (m := DECISION.search(line.strip()))]
    asked = {int(count) for count, why in decisions if why.startswith("target tracking")}
    assert {count for count in watch.seen if count > 1} <= asked, (watch.seen, decisions)
    assert max(watch.seen) > 1  # it did scale out
    waker_lines = [line for line in running.lines if line.startswith("waker:")]
    assert waker_lines and all(line.strip().endswith("desired 0 -> 1") for line in waker_lines)
    assert watch.seen[-30:] == [0] * 30  # 3 s of idle readings: no wake without a nudge
    stop_cleanly(running)


def test_an_image_that_cannot_start_is_woken_once_however_often_it_is_nudged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": "eu-west-2",
        "AWS_DEFAULT_REGION": "eu-west-2",
    }.items():
        monkeypatch.setenv(name, value)
    service = FailingService()
    environment = {"CLUSTER_NAME": "tasks", "SERVICE_NAME": "workers"}
    said: list[str] = []

    def waker(event: Any) -> Any:
        return invoke(WAKER_HANDLER, event, environment)

    with (
        FailingEcs(service, "tasks", "workers") as ecs,
        LocalLambdaEndpoint({"waker": waker}, said.append) as endpoint,
    ):
        monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", ecs.url)
        nudges = boto3.client("lambda", endpoint_url=endpoint.url)
        started = time.monotonic()
        # WHEN 40 nudges arrive over 10 s (40 web-app processes, or events)
        for _ in range(40):
            nudges.invoke(FunctionName="waker", InvocationType="Event", Payload=b"{}")
            time.sleep(0.25)
        time.sleep(1)
        elapsed = time.monotonic() - started
        woken_once = list(service.updates)
        # AND a deploy sets the count to 0 again (CloudFormation's DesiredCount 0)
        service.update(0)
        nudges.invoke(FunctionName="waker", InvocationType="RequestResponse", Payload=b"{}")
    assert said == []  # no handler failed
    # THEN one wake while ECS kept retrying the failing launches; the alarm's step
    # (60 s cooldown, and only at desired 0) would not have acted more often
    assert [count for _, count in woken_once] == [1]
    assert len(woken_once) <= 1 + elapsed / 60
    assert service.launches >= 3
    assert max(service.desired_seen) == 1
    # and once something sets it back to 0, a nudge wakes it again, to 1
    assert [count for _, count in service.updates] == [1, 0, 1]
