"""Discrete-time simulation of whole days: enqueue-to-start latency and scaling.

Arrivals are Poisson, per minute, following each task's profile, on the days its
calendar runs (the period simulated covers whole cycles of the calendars). A Lambda consumer is an
M/G/c queue with cold starts; a Fargate consumer is a fleet of tasks with poller threads,
driven by the scaling rule read from the template (see :mod:`comparison.model.scaling`)
and stepped by the one autoscaler model (:mod:`comparison.model.autoscaler`): target
tracking on backlog per task or CPU, a step-scaling wake-up from zero, cooldowns, and
the waker a nudge on enqueue sets from 0 to 1 (applied at the next step). Tasks holding
messages are protected from scale-in.
"""

from __future__ import annotations

import heapq
import math
import random
import statistics
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from comparison.inputs.assumptions import DAYS_PER_MONTH, Assumptions
from comparison.inputs.patterns import runs_on
from comparison.inputs.workload import TaskLoad
from comparison.model.autoscaler import Autoscaler, Observation
from comparison.model.scaling import ScalingMetric, ScalingParams

DAY_SECONDS = 86_400.0
# Arrivals within a minute sit at (offset + k x this) mod 1 of it: a low-discrepancy
# sequence, so one more arrival leaves the others where they were (see day_arrivals).
_GOLDEN_FRACTION = (math.sqrt(5) - 1) / 2
_NORMAL = statistics.NormalDist()
# A lone message this long after the start of the day meets a fully idle system.
_IDLE_PROBE_TIME = 3_600.0 + 0.001
_DRAIN_SECONDS = 3_600.0


class Arrival(NamedTuple):
    time: float
    """When the message reaches the consumer's queue (or endpoint)."""
    duration: float
    task: str = ""
    delay: float = 0.0
    """Time already spent before ``time`` since it was enqueued (e.g. in an invoker Lambda)."""


@dataclass(frozen=True, kw_only=True)
class LambdaModel:
    max_concurrency: int


@dataclass(frozen=True, kw_only=True)
class FleetModel:
    threads_per_task: int
    scaling: ScalingParams


@dataclass(frozen=True)
class DayCounts:
    """One simulated day's billable counts, for the day-to-day spread of the totals (or
    the average day of one calendar cycle, where the days of a cycle differ by design)."""

    unit_seconds: float = 0.0
    starts: float = 0
    cold_starts: float = 0
    runs: float = 0

    @staticmethod
    def average(days: Sequence[DayCounts]) -> DayCounts:
        n = len(days)
        return DayCounts(
            unit_seconds=sum(d.unit_seconds for d in days) / n,
            starts=sum(d.starts for d in days) / n,
            cold_starts=sum(d.cold_starts for d in days) / n,
            runs=sum(d.runs for d in days) / n,
        )


@dataclass(frozen=True, kw_only=True)
class ConsumerRun:
    """What one consumer did over the simulated days."""

    waits: tuple[float, ...]
    unit_seconds: float
    """Fargate task-seconds (starting tasks included: Fargate bills from the image pull)."""
    peak_units: int
    """Most Fargate tasks, or most concurrent Lambda environments, at once."""
    cold_starts: float = 0
    timeline: tuple[int, ...] = ()
    """Fargate tasks per simulation step."""
    unfinished: int = 0
    """Messages still waiting an hour after the day's last arrival: it cannot keep up."""
    starts: float = 0
    """Fargate task launches (each pulls the image)."""
    wait_tasks: tuple[str, ...] = ()
    """The task name of each entry of ``waits``."""
    days: int = 1
    """Simulated days behind the per-day counts (``waits`` holds every one of them)."""
    waited: float = 0
    """Messages that found no free thread on arrival; at an HTTP endpoint each is a 503
    answer the caller must retry."""
    daily: tuple[DayCounts, ...] = ()
    run_count: float | None = None
    """Runs behind the counts; None: every entry of ``waits``."""

    def day(self, index: int) -> ConsumerRun:
        """The counts of one simulated day alone (the average where days were not kept)."""
        if index >= len(self.daily):
            return self
        d = self.daily[index]
        return replace(
            self,
            unit_seconds=d.unit_seconds,
            starts=d.starts,
            cold_starts=d.cold_starts,
            days=1,
            run_count=d.runs,
        )

    def per_day(self, days: int, cycle: int = 1) -> ConsumerRun:
        """Counts and task-seconds as a daily average over ``days`` simulated days; ``daily``
        then holds one average day per ``cycle`` days, the samples of the spread."""
        daily = self.daily
        if cycle > 1:
            daily = tuple(
                DayCounts.average(daily[start : start + cycle])
                for start in range(0, len(daily), cycle)
            )
        return replace(
            self,
            daily=daily,
            unit_seconds=self.unit_seconds / days,
            cold_starts=self.cold_starts / days,
            starts=self.starts / days,
            waited=self.waited / days,
            days=days,
        )

    @property
    def runs_per_day(self) -> float:
        runs = len(self.waits) if self.run_count is None else self.run_count
        return runs / self.days

    def waits_of(self, task: str) -> list[float]:
        return [w for w, name in zip(self.waits, self.wait_tasks, strict=True) if name == task]


def day_arrivals(
    task: TaskLoad, per_day: float, rng: random.Random, offset: float
) -> list[Arrival]:
    """Poisson arrivals of ``per_day`` expected runs in the day from ``offset``, per minute,
    following the task's profile.

    Every minute draws exactly two random numbers, whatever the volume: one gives the
    count (by the inverse of Poisson's distribution), one places the arrivals. So a
    slightly larger volume gives the same arrivals plus a few (never fewer in any minute),
    and the compared inputs share their random numbers: the figures move smoothly with
    the volume instead of jumping with a reshuffled stream."""
    arrivals: list[Arrival] = []
    duration, name = task.duration_seconds, task.name
    for minute, share in enumerate(task.profile):
        if not share:
            continue
        count, place = _poisson(per_day * share, rng.random()), rng.random()
        start = offset + minute * 60
        for k in range(count):
            second = (place + k * _GOLDEN_FRACTION) % 1.0 * 60
            arrivals.append(Arrival(start + second, duration, name))
    arrivals.sort()
    return arrivals


def task_arrivals(
    task: TaskLoad, seed: int, days: int, memo: dict[Hashable, object] | None = None
) -> tuple[Arrival, ...]:
    """One task's arrivals over ``days`` days, from its own random stream: every topology
    sees the same arrivals (common random numbers), whatever consumers it groups them in.

    The days its calendar runs on share the period's volume (the month's rate times
    ``days``), so the period carries the monthly rate even when it is not a whole number
    of the calendar's cycles. ``memo`` (a scenario's) keeps them for the next topology."""
    key = ("arrivals", task, seed, days)
    found_before = memo.get(key) if memo is not None else None
    if isinstance(found_before, tuple):
        return found_before
    arrivals = _task_arrivals(task, seed, days)
    if memo is not None:
        memo[key] = arrivals
    return arrivals


def _task_arrivals(task: TaskLoad, seed: int, days: int) -> tuple[Arrival, ...]:
    active = [day for day in range(days) if runs_on(task.calendar, day)]
    if task.volume_per_month <= 0 or not active:
        return ()
    per_day = task.volume_per_month / DAYS_PER_MONTH * (days / len(active))
    rng = random.Random(f"{seed}:{task.name}")
    found: list[Arrival] = []
    for day in active:
        found += day_arrivals(task, per_day, rng, offset=day * DAY_SECONDS)
    return tuple(found)


def merged_arrivals(
    tasks: Sequence[TaskLoad], seed: int, days: int, memo: dict[Hashable, object] | None = None
) -> list[Arrival]:
    return sorted(a for task in tasks for a in task_arrivals(task, seed, days, memo))


def _poisson(mean: float, uniform: float) -> int:
    """The Poisson(``mean``) count at quantile ``uniform``: non-decreasing in ``mean``."""
    if mean <= 0:
        return 0
    if mean > 30:  # the normal approximation; the exact sum is slow for large means
        z = _NORMAL.inv_cdf(min(max(uniform, 1e-12), 1 - 1e-12))
        return max(0, round(mean + math.sqrt(mean) * z))
    count, term = 0, math.exp(-mean)
    cumulative = term
    while uniform > cumulative and term > 0:
        count += 1
        term *= mean / count
        cumulative += term
    return count


def simulate_lambda(
    arrivals: Sequence[Arrival], model: LambdaModel, assumptions: Assumptions
) -> ConsumerRun:
    """Each message goes to a warm environment, a new (cold) one, or waits for the cap."""
    busy: list[float] = []  # heap of finish times of busy environments
    idle: list[float] = []  # stack of times at which idle environments became free
    waits: list[float] = []
    cold = peak = 0
    days: dict[int, list[int]] = {}  # day -> [runs, cold starts]
    poll, keep_warm = assumptions.lambda_poll_delay_seconds, assumptions.lambda_keep_warm_seconds
    for arrived, duration, _, delay in arrivals:
        today = days.setdefault(int(arrived // DAY_SECONDS), [0, 0])
        today[0] += 1
        ready = arrived + poll
        # Environments freed earlier come off the heap in time order, after those already
        # idle (arrivals are sorted), so ``idle`` stays sorted: the oldest expire first.
        while busy and busy[0] <= ready:
            idle.append(heapq.heappop(busy))
        expired = 0
        while expired < len(idle) and ready - idle[expired] > keep_warm:
            expired += 1
        if expired:
            del idle[:expired]
        if idle:
            idle.pop()  # the most recently used environment is the warm one reused
            start = ready
        elif len(busy) + len(idle) < model.max_concurrency:
            cold += 1
            today[1] += 1
            start = ready + assumptions.lambda_cold_start_seconds
        else:
            start = max(ready, heapq.heappop(busy))
        heapq.heappush(busy, start + duration)
        peak = max(peak, len(busy))
        waits.append(start - arrived + delay)
    return ConsumerRun(
        waits=tuple(waits),
        unit_seconds=0.0,
        peak_units=peak,
        cold_starts=cold,
        wait_tasks=tuple(arrival.task for arrival in arrivals),
        daily=tuple(
            DayCounts(runs=runs, cold_starts=colds) for _, (runs, colds) in sorted(days.items())
        ),
    )


@dataclass
class _Task:
    ready_at: float
    slots: list[float] = field(default_factory=list)  # when each poller thread is free

    def busy(self, now: float) -> int:
        return sum(1 for free_at in self.slots if free_at > now)


def simulate_fleet(
    arrivals: Sequence[Arrival],
    model: FleetModel,
    assumptions: Assumptions,
    horizon: float = DAY_SECONDS,
) -> ConsumerRun:
    """Step through the day: scale on each datapoint, hand messages to free poller threads."""
    params, dt = model.scaling, assumptions.step_seconds
    threads = max(1, model.threads_per_task)
    scaler = Autoscaler(params)
    initial = scaler.desired
    fleet = [_Task(ready_at=-math.inf, slots=[-math.inf] * threads) for _ in range(initial)]
    changes: deque[tuple[float, int]] = deque()
    desired = initial
    waiting: deque[Arrival] = deque()
    waits: list[float] = []
    names: list[str] = []
    timeline: list[int] = []
    next_arrival, unit_seconds, peak = 0, 0.0, initial
    starts = waited = 0
    # Per day: [task-seconds, launches]; the drain after the last day counts to that day.
    daily: list[list[float]] = [[0.0, 0] for _ in range(max(1, math.ceil(horizon / DAY_SECONDS)))]
    # Past the horizon, no new work arrives; the last messages drain for up to an hour,
    # standing in for the tail the previous day leaves at midnight.
    last_step, drain_end = int(horizon / dt), int((horizon + _DRAIN_SECONDS) / dt)
    scales = params.metric is not ScalingMetric.NONE or bool(params.step_rules)
    # (start, end) of the runs that may overlap the current CPU metric period.
    worked: list[tuple[float, float]] | None = [] if params.metric is ScalingMetric.CPU else None
    floor = max(params.starting_count, 0)  # the count the fleet idles at
    step = -1
    while step + 1 < last_step or (waiting and step + 1 < drain_end):
        step += 1
        now, end = step * dt, (step + 1) * dt
        while changes and changes[0][0] <= now:
            desired = changes.popleft()[1]
        launched = (  # a call only when the count must change: most steps it need not
            _reconcile(fleet, desired, now, threads, assumptions.fargate_start_seconds)
            if desired != len(fleet)
            else 0
        )
        starts += launched
        today = daily[min(int(now // DAY_SECONDS), len(daily) - 1)]
        today[1] += launched
        if scales and now % params.metric_period_seconds == 0:
            running = [task for task in fleet if task.ready_at <= now]
            visible = len(waiting)  # everything enqueued before ``now`` and not started
            in_flight = sum(task.busy(now) for task in running)
            busy_threads = None
            if worked is not None:
                # CPU averages over the period. A sample at the instant ``now`` reads 0
                # when runs end on step boundaries (1.0 s runs in 10 s steps) and full
                # when they end just after (1.01 s): the 1.0 s vs 1.01 s instability.
                since = now - params.metric_period_seconds
                worked[:] = [run for run in worked if run[1] > since]
                busy_threads = _busy_seconds(worked, since, now) / params.metric_period_seconds
            pending = len(fleet) - len(running)
            busy = in_flight if busy_threads is None else busy_threads
            seen = Observation(
                visible, in_flight, len(running), pending, _cpu_percent(busy, running, threads)
            )
            new = scaler.observe(now, seen).desired
            if new != (changes[-1][1] if changes else desired):
                changes.append((now + assumptions.alarm_evaluation_lag_seconds, new))
        while next_arrival < len(arrivals) and arrivals[next_arrival][0] < end:
            arrival = arrivals[next_arrival]
            waiting.append(arrival)
            next_arrival += 1
            if params.wakes_on_enqueue and scaler.desired == 0:
                up = sum(1 for task in fleet if task.ready_at <= arrival.time)
                if scaler.nudge(up, len(fleet) - up).desired:
                    _insert(changes, (arrival.time + assumptions.wake_nudge_seconds, 1))
        waited += _dispatch(fleet, waiting, waits, names, end, worked)
        unit_seconds += len(fleet) * dt
        today[0] += len(fleet) * dt
        peak = max(peak, len(fleet))
        timeline.append(len(fleet))
        if not waiting and not changes and _quiet(fleet, desired, floor, end):
            # Nothing changes until the next arrival: account for the idle steps at once.
            upto = (
                int(arrivals[next_arrival][0] // dt) if next_arrival < len(arrivals) else last_step
            )
            first, stop = step + 1, min(upto, last_step)
            if stop > first:
                _account_idle(daily, first, stop, dt, len(fleet) * dt)
                unit_seconds += len(fleet) * dt * (stop - first)
                timeline.extend([len(fleet)] * (stop - first))
                if scales:
                    periods = _multiples(first, stop, params.metric_period_seconds / dt)
                    scaler.idle_for(periods, Observation(0, 0, scaler.desired, 0))
                step = stop - 1
    return ConsumerRun(
        waits=tuple(waits),
        unit_seconds=unit_seconds,
        peak_units=peak,
        timeline=tuple(timeline),
        unfinished=len(waiting),
        starts=starts,
        wait_tasks=tuple(names),
        waited=waited,
        daily=tuple(DayCounts(unit_seconds=u, starts=int(n)) for u, n in daily),
    )


def _insert(changes: deque[tuple[float, int]], change: tuple[float, int]) -> None:
    """Add ``change`` keeping ``changes`` in time order (a nudge may come before an
    alarm's change that is still on its way)."""
    changes.append(change)
    if len(changes) > 1 and changes[-2][0] > change[0]:
        ordered = sorted(changes)
        changes.clear()
        changes.extend(ordered)


def _cpu_percent(busy_threads: float, running: Sequence[_Task], threads: int) -> float:
    """Busy poller threads (on average over the metric period, as CPUUtilization is)
    stand in for CPU; starting tasks report no CPU yet."""
    return 100.0 * busy_threads / (len(running) * threads) if running else 0.0


def _account_idle(
    daily: list[list[float]], first: int, stop: int, dt: float, per_step: float
) -> None:
    """Add ``per_step`` task-seconds for steps first..stop-1 to the days they fall in."""
    per_day = int(DAY_SECONDS // dt)
    while first < stop:
        day = first // per_day
        until = min(stop, (day + 1) * per_day)
        daily[min(day, len(daily) - 1)][0] += per_step * (until - first)
        first = until


def _multiples(first: int, stop: int, every: float) -> int:
    """How many steps in first..stop-1 fall on a datapoint (every ``every`` steps)."""
    if every != int(every) or every < 1:
        return sum(1 for i in range(first, stop) if i % every == 0)
    k = int(every)
    return (stop - 1) // k - (first - 1) // k


def _quiet(fleet: list[_Task], desired: int, floor: int, at: float) -> bool:
    """Idle at its ``floor``: every task up and free, nothing to scale in or out."""
    return desired == len(fleet) == floor and all(
        t.ready_at <= at and all(f <= at for f in t.slots) for t in fleet
    )


def _reconcile(fleet: list[_Task], desired: int, now: float, threads: int, start: float) -> int:
    """Launch or stop tasks towards ``desired``; never stop a task holding messages.

    Returns the number of tasks launched."""
    launched = max(0, desired - len(fleet))
    for _ in range(launched):
        fleet.append(_Task(ready_at=now + start, slots=[now + start] * threads))
    surplus = len(fleet) - desired
    if surplus <= 0:
        return launched
    # Stop starting tasks first, then idle ones; scale-in protection keeps busy tasks.
    stoppable = sorted(
        (task for task in fleet if task.busy(now) == 0),
        key=lambda task: -task.ready_at,
    )
    for task in stoppable[:surplus]:
        fleet.remove(task)
    return launched


def _busy_seconds(runs: Sequence[tuple[float, float]], start: float, end: float) -> float:
    """Thread-seconds the runs spent between ``start`` and ``end``."""
    return sum(max(0.0, min(finish, end) - max(begin, start)) for begin, finish in runs)


def _dispatch(
    fleet: list[_Task],
    waiting: deque[Arrival],
    waits: list[float],
    names: list[str],
    end: float,
    worked: list[tuple[float, float]] | None = None,
) -> int:
    """FIFO: each waiting message starts on the thread that frees up first, if before ``end``.

    Returns how many of the started messages had to wait for a thread."""
    if not waiting:  # most steps of a quiet day: nothing to hand out
        return 0
    held = 0
    # Each thread's (time it can start, task, slot), for threads free before ``end``: a
    # started task's thread is free when its run ends (the hot loop of the simulation).
    free = []
    for index, task in enumerate(fleet):
        ready = task.ready_at
        if ready >= end:
            continue
        for slot, free_at in enumerate(task.slots):
            if free_at < end:
                free.append((free_at if free_at > ready else ready, index, slot))
    heapq.heapify(free)
    while free and waiting:
        available, index, slot = heapq.heappop(free)
        arrived, duration, name, delay = waiting[0]
        begin = max(arrived, available)
        if begin >= end:
            break
        waiting.popleft()
        waits.append(begin - arrived + delay)
        names.append(name)
        held += begin > arrived
        fleet[index].slots[slot] = begin + duration
        if worked is not None:
            worked.append((begin, begin + duration))
        if begin + duration < end:
            heapq.heappush(free, (begin + duration, index, slot))
    return held


def idle_probe(duration: float, task: str = "probe") -> list[Arrival]:
    """One message arriving just after a metric datapoint, on a system idle for an hour."""
    return [Arrival(_IDLE_PROBE_TIME, duration, task)]


def percentile(values: Sequence[float], fraction: float) -> float:
    """Interpolated between the two nearest ranks (as numpy's default): a sample's
    percentile moves by a fraction of a gap when a value comes or goes, not a whole one."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)
