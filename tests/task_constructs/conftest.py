"""Task-type factories for construct tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from runtime.catalogue import OnDemand, ScheduleTrigger, TaskType

TaskFactory = Callable[..., TaskType]


@pytest.fixture
def make_task() -> TaskFactory:
    def factory(**overrides: Any) -> TaskType:
        fields: dict[str, Any] = {
            "name": "sample-task",
            "description": "A task for tests",
            "triggers": (OnDemand(),),
            "expected_duration_seconds": 10,
            "max_duration_seconds": 120,
            "memory_mib": 512,
            "handler": "tests.tasks:handle",
            "max_receive_count": 4,
        }
        fields.update(overrides)
        return TaskType(**fields)

    return factory


@pytest.fixture
def nightly() -> ScheduleTrigger:
    return ScheduleTrigger(
        expression="cron(0 2 * * ? *)", time_zone="Europe/London", payload={"period": "day"}
    )
