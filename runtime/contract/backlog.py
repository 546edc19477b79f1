"""The backlog metric: its names, units and formula, shared by every side.

The worker service's scaling rules (``task_constructs.queue_worker_service``) track
these metrics, the backlog metric Lambda (``runtime.backlog_metric``) publishes them,
and the cost model's scaling simulation (``comparison.simulate.simulation``) computes them, all
with :func:`compute_backlog`. Pure: the standard library only.

- ``BacklogPerTask`` = (visible + in flight) / max(running + pending, 1). In-flight
  messages count, so a busy service is not scaled in under its workers (aws-cdk
  #9242); at 0 tasks the divisor is 1, so the metric shows demand.
- ``WakeUpSignal`` = 1 when there are messages, no task runs or starts, and the
  desired count is 0 (see ``runtime.backlog_metric`` for why the desired count counts).
- The target the scaling policy tracks, :func:`target_backlog_per_task`: the messages a
  task works off within the acceptable latency, acceptable latency / task duration x
  worker threads per task. The construct synthesizes it; the comparison and the local
  emulator fall back on it where a template is silent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "BACKLOG_PER_TASK",
    "DEFAULT_ACCEPTABLE_LATENCY_SECONDS",
    "IN_FLIGHT_ATTRIBUTE",
    "IN_FLIGHT_MESSAGES",
    "METRIC_UNITS",
    "RUNNING_TASKS",
    "VISIBLE_ATTRIBUTE",
    "VISIBLE_MESSAGES",
    "WAKE_UP_SIGNAL",
    "BacklogSample",
    "compute_backlog",
    "latency_for_target",
    "needs_wake",
    "target_backlog_per_task",
]

BACKLOG_PER_TASK: Final = "BacklogPerTask"
WAKE_UP_SIGNAL: Final = "WakeUpSignal"
VISIBLE_MESSAGES: Final = "VisibleMessages"
IN_FLIGHT_MESSAGES: Final = "InFlightMessages"
RUNNING_TASKS: Final = "RunningTasks"

# CloudWatch's names of the units used here (a subset of its StandardUnit).
MetricUnit = Literal["None", "Count"]

# The scaling policies and alarms must name the same units, or CloudWatch matches nothing.
METRIC_UNITS: Final[Mapping[str, MetricUnit]] = {
    BACKLOG_PER_TASK: "None",  # a ratio: messages per task
    WAKE_UP_SIGNAL: "None",  # a flag: 0 or 1
    VISIBLE_MESSAGES: "Count",
    IN_FLIGHT_MESSAGES: "Count",
    RUNNING_TASKS: "Count",
}


# How long a message may wait before work starts, unless the service says otherwise:
# the construct's default, and the comparison's where a workload is silent.
DEFAULT_ACCEPTABLE_LATENCY_SECONDS: Final = 300.0

# The SQS queue attributes the visible and in-flight counts come from.
VISIBLE_ATTRIBUTE: Final = "ApproximateNumberOfMessages"
IN_FLIGHT_ATTRIBUTE: Final = "ApproximateNumberOfMessagesNotVisible"


@dataclass(frozen=True, kw_only=True)
class BacklogSample:
    """One minute's observation and the metric values derived from it."""

    visible: int
    in_flight: int
    running: int
    pending: int
    desired: int
    backlog_per_task: float
    wake_up: int

    @property
    def messages(self) -> int:
        return self.visible + self.in_flight

    @property
    def tasks(self) -> int:
        # Pending tasks are capacity already on its way, so they share the backlog.
        return self.running + self.pending


def needs_wake(*, desired: int, running: int, pending: int) -> bool:
    """Whether work waiting for the service should set its desired count to 1: only at
    desired 0 with no task running or starting. Above 0, ECS is already starting a task
    (or failing to: an image that cannot start), and another step would only ratchet the
    count up. One rule for the wake-up alarm's signal, the waker (``runtime.waker``) and
    the comparison's model of both."""
    return desired == 0 and running == 0 and pending == 0


def compute_backlog(
    visible: int, in_flight: int, running: int, pending: int, *, desired: int = 0
) -> BacklogSample:
    """The metric values for one observation. Pure; raises ValueError on a negative count.

    ``desired`` is the service's desired count; the comparison's scaling simulation
    calls this same function, so the model and the runtime share one formula.
    """
    counts = {
        "visible": visible,
        "in_flight": in_flight,
        "running": running,
        "pending": pending,
        "desired": desired,
    }
    negative = {name: value for name, value in counts.items() if value < 0}
    if negative:
        raise ValueError(f"counts must not be negative, got {negative}")
    messages = visible + in_flight
    tasks = running + pending
    return BacklogSample(
        visible=visible,
        in_flight=in_flight,
        running=running,
        pending=pending,
        desired=desired,
        backlog_per_task=messages / max(tasks, 1),
        wake_up=int(messages > 0 and needs_wake(desired=desired, running=running, pending=pending)),
    )


def target_backlog_per_task(
    acceptable_latency_seconds: float, task_seconds: float, worker_threads: int
) -> float:
    """The backlog per task to track: the messages one task's ``worker_threads`` work off
    within ``acceptable_latency_seconds`` when each takes ``task_seconds``.

    At least 1 (a lower target would keep a task per message), floored to two decimal
    places so the template stays readable. Pure; raises ValueError on a value that is
    not a positive finite number.
    """
    values = {
        "acceptable_latency_seconds": acceptable_latency_seconds,
        "task_seconds": task_seconds,
        "worker_threads": worker_threads,
    }
    bad = {name: v for name, v in values.items() if not (math.isfinite(v) and v > 0)}
    if bad:
        raise ValueError(f"the backlog target needs positive finite values, got {bad}")
    per_task = acceptable_latency_seconds / task_seconds * worker_threads
    return max(1.0, math.floor(per_task * 100) / 100)


def latency_for_target(target: float, task_seconds: float, worker_threads: int) -> int:
    """The inverse of :func:`target_backlog_per_task`, up to its flooring: the fewest
    whole seconds of acceptable latency, from ``target`` x ``task_seconds`` /
    ``worker_threads`` rounded down, that give ``target`` back. Reading a template's
    target this way returns the latency that was synthesized (300 s, not the 299.5 s a
    floored 3.10 multiplies back to). A target held at the floor of 1 cannot be
    inverted: any shorter latency gives 1 too."""
    seconds = max(1, math.floor(target * task_seconds / worker_threads))
    while target_backlog_per_task(seconds, task_seconds, worker_threads) < target:
        seconds += 1
    return seconds
