"""The backlog-per-task target in the contract: one formula for the construct, the
comparison and the local emulator."""

from __future__ import annotations

import math

import pytest

from runtime.contract.backlog import latency_for_target, target_backlog_per_task


def test_target_is_latency_over_duration_times_worker_threads() -> None:
    assert target_backlog_per_task(300, 30, 4) == 40
    assert target_backlog_per_task(300, 30, 1) == 10


def test_target_is_floored_to_two_decimal_places() -> None:
    # the README's figure: 5 minutes, the catalogue's mean 96.6 s, 4 threads (12.4223...)
    assert target_backlog_per_task(300, 96.6, 4) == 12.42


def test_target_is_at_least_one_message_per_task() -> None:
    assert target_backlog_per_task(30, 600, 1) == 1.0


@pytest.mark.parametrize(
    ("latency", "duration", "threads", "named"),
    [
        (0, 30, 4, "acceptable_latency_seconds"),
        (300, -1, 4, "task_seconds"),
        (300, math.inf, 4, "task_seconds"),
        (300, 30, 0, "worker_threads"),
    ],
)
def test_target_refuses_values_that_are_not_positive_and_finite(
    latency: float, duration: float, threads: int, named: str
) -> None:
    with pytest.raises(ValueError, match=f"positive finite values, got {{'{named}'"):
        target_backlog_per_task(latency, duration, threads)


@pytest.mark.parametrize(
    ("latency", "threads"), [(300, 1), (300, 2), (300, 4), (120, 8), (60, 16), (299, 1), (7, 64)]
)
def test_a_templates_target_reads_back_as_the_latency_it_was_made_from(
    latency: int, threads: int
) -> None:
    target = target_backlog_per_task(latency, 96.6, threads)
    assert latency_for_target(target, 96.6, threads) == latency
