"""The waker against moto's ECS (in process), and the states moto cannot reach.

ECS behaviour the waker relies on, as AWS documents it:
- "UpdateService" (Amazon ECS API Reference): ``desiredCount`` alone changes the count;
  the service scheduler starts or stops tasks to meet it.
- "Amazon ECS service throttle logic" (Amazon ECS Developer Guide): a service whose
  tasks fail to start keeps its desired count and retries with a growing delay, so
  between attempts it reports desired 1, running 0, pending 0.

moto's ECS reports a new service as runningCount 0 and pendingCount = desiredCount, and
``update_service(desiredCount=N)`` makes it runningCount N: the tests reach "asleep"
(0/0/0), "starting" (1 pending) and "running" with it. The failing-image state has no
moto equivalent, so botocore's Stubber answers DescribeServices as ECS does then.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from runtime.backlog_metric import ServiceNotFoundError
from runtime.errors import ConfigurationError
from runtime.waker import ServiceRef, handler, wake
from tests.runtime.helpers import ecs_service, in_process_moto, use_fake_credentials

CLUSTER = "tasks"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECS", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    use_fake_credentials(monkeypatch)
    with in_process_moto():
        yield


def _service(ecs: Any, *, desired: int) -> ServiceRef:
    name = f"worker-{uuid.uuid4().hex[:8]}"
    ecs_service(ecs, CLUSTER, name, desired=desired)
    return ServiceRef(CLUSTER, name)


def _counting_updates(ecs: Any) -> list[dict[str, Any]]:
    """Every UpdateService call the client makes, seen through botocore's event hooks."""
    calls: list[dict[str, Any]] = []
    ecs.meta.events.register(
        "provide-client-params.ecs.UpdateService", lambda params, **_: calls.append(dict(params))
    )
    return calls


def _desired(ecs: Any, service: ServiceRef) -> int:
    (found,) = ecs.describe_services(cluster=CLUSTER, services=[service.service_name])["services"]
    return int(found["desiredCount"])


def test_an_asleep_service_is_set_to_one_task(aws: None) -> None:
    ecs = boto3.client("ecs")
    service = _service(ecs, desired=0)
    updates = _counting_updates(ecs)

    result = wake(service, ecs=ecs)

    assert result["woken"] is True
    assert (result["desired"], result["running"], result["pending"]) == (0, 0, 0)
    assert updates == [{"cluster": CLUSTER, "service": service.service_name, "desiredCount": 1}]
    assert _desired(ecs, service) == 1


@pytest.mark.parametrize(
    ("state", "desired_after"),
    [("starting", 1), ("running", 3)],
)
def test_a_service_with_a_task_running_or_starting_is_left_alone(
    aws: None, state: str, desired_after: int
) -> None:
    ecs = boto3.client("ecs")
    service = _service(ecs, desired=1)  # moto: 1 pending
    if state == "running":
        ecs.update_service(cluster=CLUSTER, service=service.service_name, desiredCount=3)
    updates = _counting_updates(ecs)

    result = wake(service, ecs=ecs)

    assert result["woken"] is False
    assert updates == []
    assert _desired(ecs, service) == desired_after


def test_twenty_nudges_wake_once_and_never_raise_the_count_above_one(aws: None) -> None:
    ecs = boto3.client("ecs")
    service = _service(ecs, desired=0)
    updates = _counting_updates(ecs)

    results = [wake(service, ecs=ecs) for _ in range(20)]

    assert [r["woken"] for r in results].count(True) == 1
    assert len(updates) == 1
    assert _desired(ecs, service) == 1


def test_a_service_whose_tasks_fail_to_start_is_not_woken_again(aws: None) -> None:
    """desired 1, nothing running or pending: ECS is between failed launches (its throttle
    logic). The waker leaves it; the count cannot ratchet."""
    ecs = boto3.client("ecs")
    stubber = Stubber(ecs)
    for _ in range(5):
        stubber.add_response(
            "describe_services",
            {"services": [{"desiredCount": 1, "runningCount": 0, "pendingCount": 0}]},
            {"cluster": CLUSTER, "services": ["worker"]},
        )
    with stubber:  # an UpdateService call would fail: nothing stubs it
        results = [wake(ServiceRef(CLUSTER, "worker"), ecs=ecs) for _ in range(5)]
    assert not any(r["woken"] for r in results)
    stubber.assert_no_pending_responses()


def test_the_handler_wakes_the_service_its_environment_names(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    ecs = boto3.client("ecs")
    service = _service(ecs, desired=0)
    monkeypatch.setenv("CLUSTER_NAME", CLUSTER)
    monkeypatch.setenv("SERVICE_NAME", service.service_name)

    result = handler({"task": "generate-report"}, None)

    assert result["woken"] is True
    assert _desired(ecs, service) == 1


def test_a_missing_environment_names_every_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLUSTER_NAME", raising=False)
    monkeypatch.delenv("SERVICE_NAME", raising=False)
    with pytest.raises(ConfigurationError, match="CLUSTER_NAME, SERVICE_NAME"):
        handler({}, None)


def test_an_unknown_service_fails_loudly_and_changes_nothing(aws: None) -> None:
    ecs = boto3.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)  # the cluster, without the service
    updates = _counting_updates(ecs)
    with pytest.raises(ServiceNotFoundError, match="not found"):
        wake(ServiceRef(CLUSTER, "no-such-service"), ecs=ecs)
    assert updates == []
