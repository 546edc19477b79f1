"""Discrete-time simulation of one representative day: enqueue-to-start latency and scaling.

Arrivals are Poisson, per minute, following each task's profile. A Lambda consumer is an
M/G/c queue with cold starts; a Fargate consumer is a fleet of tasks with poller threads,
driven by the scaling rule read from the template (see :mod:`comparison.scaling`):
target tracking on backlog per task or CPU, a step-scaling wake-up from zero, cooldowns
and scale-in protection for tasks holding messages.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from comparison.assumptions import DAYS_PER_MONTH, Assumptions
from comparison.scaling import ScalingMetric, ScalingParams, StepMetric
from comparison.workload import TaskLoad

DAY_SECONDS = 86_400.0
# A lone message this long after the start of the day meets a fully idle system.
_IDLE_PROBE_TIME = 3_600.0 + 0.001
_DRAIN_SECONDS = 3_600.0

Arrival = tuple[float, float]  # (enqueue time, processing seconds)


@dataclass(frozen=True, kw_only=True)
class LambdaModel:
    max_concurrency: int


@dataclass(frozen=True, kw_only=True)
class FleetModel:
    threads_per_task: int
    scaling: ScalingParams


@dataclass(frozen=True, kw_only=True)
class ConsumerRun:
    """What one consumer did over the simulated day."""

    waits: tuple[float, ...]
    unit_seconds: float
    """Fargate task-seconds (starting tasks included: Fargate bills from the image pull)."""
    peak_units: int
    """Most Fargate tasks, or most concurrent Lambda environments, at once."""
    cold_starts: int = 0
    timeline: tuple[int, ...] = ()
    """Fargate tasks per simulation step."""
    unfinished: int = 0
    """Messages still waiting an hour after the day's last arrival: it cannot keep up."""


def daily_arrivals(
    tasks: Sequence[TaskLoad], rng: random.Random, volume_factor: float = 1.0
) -> list[Arrival]:
    """Poisson arrivals for one day, per minute, following each task's profile."""
    arrivals: list[Arrival] = []
    for task in tasks:
        per_day = task.volume_per_month * volume_factor / DAYS_PER_MONTH
        if per_day <= 0:
            continue
        for minute, share in enumerate(task.profile):
            for _ in range(_poisson(per_day * share, rng)):
                arrivals.append((minute * 60 + rng.random() * 60, task.duration_seconds))
    arrivals.sort()
    return arrivals


def _poisson(mean: float, rng: random.Random) -> int:
    if mean <= 0:
        return 0
    if mean > 30:  # normal approximation; exact sampling is slow for large means
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit:
        product *= rng.random()
        count += 1
    return count


def simulate_lambda(
    arrivals: Sequence[Arrival], model: LambdaModel, assumptions: Assumptions
) -> ConsumerRun:
    """Each message goes to a warm environment, a new (cold) one, or waits for the cap."""
    busy: list[float] = []  # heap of finish times of busy environments
    idle: list[float] = []  # stack of times at which idle environments became free
    waits: list[float] = []
    cold = peak = 0
    for arrived, duration in arrivals:
        ready = arrived + assumptions.lambda_poll_delay_seconds
        while busy and busy[0] <= ready:
            idle.append(heapq.heappop(busy))
        idle.sort()
        idle = [t for t in idle if ready - t <= assumptions.lambda_keep_warm_seconds]
        if idle:
            idle.pop()  # the most recently used environment is the warm one reused
            start = ready
        elif len(busy) + len(idle) < model.max_concurrency:
            cold += 1
            start = ready + assumptions.lambda_cold_start_seconds
        else:
            start = max(ready, heapq.heappop(busy))
        heapq.heappush(busy, start + duration)
        peak = max(peak, len(busy))
        waits.append(start - arrived)
    return ConsumerRun(waits=tuple(waits), unit_seconds=0.0, peak_units=peak, cold_starts=cold)


@dataclass
class _Task:
    ready_at: float
    slots: list[float] = field(default_factory=list)  # when each poller thread is free

    def busy(self, now: float) -> int:
        return sum(1 for free_at in self.slots if free_at > now)


@dataclass
class _Autoscaler:
    """Application Auto Scaling as the simulation sees it: alarms on datapoints.

    Target tracking: scale out after ``target_tracking_out_datapoints`` datapoints above
    target, in after ``target_tracking_in_datapoints`` below 90% of it. Step rules act after
    their alarm's datapoints; a scale-out step never lowers capacity (an ExactCapacity
    wake-up reads as "at least N") and a scale-in step never raises it. Scale-out wins.
    """

    params: ScalingParams
    assumptions: Assumptions
    desired: int
    high: int = 0
    low: int = 0
    streaks: dict[int, int] = field(default_factory=dict)
    fired: dict[int, float] = field(default_factory=dict)
    last_out: float = -math.inf
    last_in: float = -math.inf

    def evaluate(self, now: float, visible: int, in_flight: int, running: int, slots: int) -> int:
        """The desired count after this datapoint."""
        p, a = self.params, self.assumptions
        total = visible + in_flight
        if p.metric is ScalingMetric.CPU:
            value = 100.0 * in_flight / (running * slots) if running else 0.0
            wanted = math.ceil(running * value / p.target)
        else:
            value = total / max(running, 1)
            if running == 0 and total > 0:
                value = max(value, p.target)  # what the metric Lambda publishes at 0 tasks
            wanted = math.ceil(total / p.target) if p.target else self.desired
        clamp = lambda n: max(p.min_capacity, min(p.max_capacity, n))  # noqa: E731
        outs: list[int] = []
        ins: list[int] = []
        if p.metric is not ScalingMetric.NONE:
            self.high = self.high + 1 if value > p.target else 0
            self.low = self.low + 1 if value < a.target_tracking_in_ratio * p.target else 0
            if self.high >= a.target_tracking_out_datapoints and (
                now - self.last_out >= p.scale_out_cooldown_seconds
            ):
                outs.append(clamp(wanted))
            if self.low >= a.target_tracking_in_datapoints and (
                now - self.last_in >= p.scale_in_cooldown_seconds
            ):
                ins.append(clamp(wanted))
        readings = {
            StepMetric.BACKLOG: value,
            StepMetric.VISIBLE: visible,
            StepMetric.TOTAL: total,
            StepMetric.WAKE_UP: total if self.desired == 0 else 0,
        }
        for index, rule in enumerate(p.step_rules):
            if now % rule.period_seconds:
                continue
            streak = self.streaks.get(index, 0) + 1 if rule.breached(readings[rule.metric]) else 0
            self.streaks[index] = streak
            cooled = now - self.fired.get(index, -math.inf) >= rule.cooldown_seconds
            if streak >= rule.datapoints_to_alarm and cooled:
                self.fired[index] = now
                (outs if rule.scales_out else ins).append(clamp(rule.apply(self.desired)))
        if any(n > self.desired for n in outs):
            self.desired, self.last_out = max(outs), now
        elif ins and max(ins) < self.desired:
            self.desired, self.last_in = max(ins), now
        return self.desired


def simulate_fleet(
    arrivals: Sequence[Arrival],
    model: FleetModel,
    assumptions: Assumptions,
    horizon: float = DAY_SECONDS,
) -> ConsumerRun:
    """Step through the day: scale on each datapoint, hand messages to free poller threads."""
    params, dt = model.scaling, assumptions.step_seconds
    threads = max(1, model.threads_per_task)
    initial = params.desired_count if params.metric is ScalingMetric.NONE else params.min_capacity
    fleet = [_Task(ready_at=-math.inf, slots=[-math.inf] * threads) for _ in range(initial)]
    scaler = _Autoscaler(params, assumptions, desired=initial)
    changes: deque[tuple[float, int]] = deque()
    desired = initial
    waiting: deque[Arrival] = deque()
    waits: list[float] = []
    timeline: list[int] = []
    next_arrival, unit_seconds, peak = 0, 0.0, initial
    # Past the horizon, no new work arrives; the last messages drain for up to an hour,
    # standing in for the tail the previous day leaves at midnight.
    last_step, drain_end = int(horizon / dt), int((horizon + _DRAIN_SECONDS) / dt)
    step = -1
    while step + 1 < last_step or (waiting and step + 1 < drain_end):
        step += 1
        now, end = step * dt, (step + 1) * dt
        while changes and changes[0][0] <= now:
            desired = changes.popleft()[1]
        _reconcile(fleet, desired, now, threads, assumptions.fargate_start_seconds)
        scales = params.metric is not ScalingMetric.NONE or params.step_rules
        if scales and now % params.metric_period_seconds == 0:
            running = [task for task in fleet if task.ready_at <= now]
            visible = len(waiting)  # everything enqueued before ``now`` and not started
            in_flight = sum(task.busy(now) for task in running)
            new = scaler.evaluate(now, visible, in_flight, len(running), threads)
            if new != (changes[-1][1] if changes else desired):
                changes.append((now + assumptions.alarm_evaluation_lag_seconds, new))
        while next_arrival < len(arrivals) and arrivals[next_arrival][0] < end:
            waiting.append(arrivals[next_arrival])
            next_arrival += 1
        _dispatch(fleet, waiting, waits, end)
        unit_seconds += len(fleet) * dt
        peak = max(peak, len(fleet))
        timeline.append(len(fleet))
    return ConsumerRun(
        waits=tuple(waits),
        unit_seconds=unit_seconds,
        peak_units=peak,
        timeline=tuple(timeline),
        unfinished=len(waiting),
    )


def _reconcile(fleet: list[_Task], desired: int, now: float, threads: int, start: float) -> None:
    """Launch or stop tasks towards ``desired``; never stop a task holding messages."""
    while len(fleet) < desired:
        fleet.append(_Task(ready_at=now + start, slots=[now + start] * threads))
    surplus = len(fleet) - desired
    if surplus <= 0:
        return
    # Stop starting tasks first, then idle ones; scale-in protection keeps busy tasks.
    stoppable = sorted(
        (task for task in fleet if task.busy(now) == 0),
        key=lambda task: -task.ready_at,
    )
    for task in stoppable[:surplus]:
        fleet.remove(task)


def _dispatch(fleet: list[_Task], waiting: deque[Arrival], waits: list[float], end: float) -> None:
    """FIFO: each waiting message starts on the thread that frees up first, if before ``end``."""
    free = [
        (max(free_at, task.ready_at), index, slot)
        for index, task in enumerate(fleet)
        for slot, free_at in enumerate(task.slots)
        if max(free_at, task.ready_at) < end
    ]
    heapq.heapify(free)
    while free and waiting:
        available, index, slot = heapq.heappop(free)
        arrived, duration = waiting[0]
        begin = max(arrived, available)
        if begin >= end:
            break
        waiting.popleft()
        waits.append(begin - arrived)
        fleet[index].slots[slot] = begin + duration
        if begin + duration < end:
            heapq.heappush(free, (begin + duration, index, slot))


def idle_probe(duration: float) -> list[Arrival]:
    """One message arriving just after a metric datapoint, on a system idle for an hour."""
    return [(_IDLE_PROBE_TIME, duration)]


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]
