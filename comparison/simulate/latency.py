"""Build a simulation model per consumer from the topology model, run, and summarise.

Latency is reported per task type (wait, and end to end = wait + run), because a
volume-weighted percentile hides the long tasks; the headline is the worst task type's
p95. Arrivals that an invoker Lambda relays (private-endpoints: schedules and event
rules) first pass through that Lambda, cold starts included.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from comparison.inputs.assumptions import DAYS_PER_MONTH, Assumptions
from comparison.inputs.scenario import Scenario
from comparison.inputs.workload import Workload
from comparison.model.resources import FunctionModel, ServiceModel
from comparison.model.routing import Consumer, ConsumerKind
from comparison.model.scaling import ScalingParams, scaling_params
from comparison.model.topology import TopologyModel
from comparison.model.triggers import relayed_share
from comparison.simulate.capacity import (
    Saturation,
    lambda_cap,
    saturations,
    ses_saturations,
    slots,
)
from comparison.simulate.simulation import (
    DAY_SECONDS,
    Arrival,
    ConsumerRun,
    FleetModel,
    LambdaModel,
    idle_probe,
    merged_arrivals,
    percentile,
    simulate_fleet,
    simulate_lambda,
)
from runtime.contract import ResourceRole
from runtime.contract.backlog import target_backlog_per_task


@dataclass(frozen=True, kw_only=True)
class TaskLatency:
    """One task type's times in seconds, over every simulated run of it."""

    task: str
    samples: int
    duration_seconds: float
    wait_p50: float
    wait_p95: float
    wait_max: float
    saturation: Saturation | None = None

    @property
    def end_to_end(self) -> tuple[float, float, float]:
        """(p50, p95, max) of wait + run; the run time is fixed per task type."""
        d = self.duration_seconds
        return self.wait_p50 + d, self.wait_p95 + d, self.wait_max + d


@dataclass(frozen=True, kw_only=True)
class LatencySummary:
    """Enqueue-to-start times in seconds over the simulated days."""

    per_task: tuple[TaskLatency, ...]
    worst_after_idle_seconds: float
    peak_units: int
    unit_label: str
    unfinished: int
    scaling: Mapping[str, ScalingParams]
    """Per Fargate service: the scaling rule the simulation used."""
    saturations: tuple[Saturation, ...] = ()
    refused: float = 0.0
    """Requests a month an HTTP endpoint answers 503 (every worker busy); callers retry."""

    @property
    def worst(self) -> TaskLatency | None:
        """The task type with the highest p95 wait: the headline."""
        return max(self.per_task, key=lambda t: t.wait_p95, default=None)

    @property
    def p95_seconds(self) -> float:
        worst = self.worst
        return worst.wait_p95 if worst else 0.0

    @property
    def p50_seconds(self) -> float:
        worst = self.worst
        return worst.wait_p50 if worst else 0.0

    @property
    def max_seconds(self) -> float:
        return max((t.wait_max for t in self.per_task), default=0.0)

    @property
    def samples(self) -> int:
        return sum(t.samples for t in self.per_task)

    @property
    def keeps_up(self) -> bool:
        """False when some consumer's average load reaches its capacity: its backlog then
        grows across any period. (Messages left after a burst are latency, not this.)"""
        return all(s.keeps_up for s in self.saturations)


def simulated_days(workload: Workload, assumptions: Assumptions) -> int:
    """Enough days for a stable total (see Assumptions.min_simulated_arrivals), in whole
    cycles of the tasks' calendars: a weekly task is simulated over at least a week,
    whatever ``max_simulated_days`` says, so its day keeps its true volume."""
    per_day = workload.volume_per_month / DAYS_PER_MONTH
    cycle = workload.cycle_days
    if per_day <= 0:
        return cycle
    wanted = math.ceil(assumptions.min_simulated_arrivals / per_day)
    days = max(1, min(assumptions.max_simulated_days, wanted))
    return math.ceil(days / cycle) * cycle


def fleet_scaling(
    consumer: Consumer, workload: Workload, assumptions: Assumptions
) -> ScalingParams:
    """The service's scaling rule, with the documented defaults where the template is silent."""
    service = consumer.resource
    if not isinstance(service, ServiceModel):
        raise TypeError(f"{consumer.logical_id} is a Lambda function: it has no scaling rule")
    volume = sum(workload.task(n).volume_per_month for n in consumer.tasks)
    busy = sum(
        workload.task(n).volume_per_month * workload.task(n).duration_seconds
        for n in consumer.tasks
    )
    average = (
        busy / volume
        if volume
        else max((workload.task(n).duration_seconds for n in consumer.tasks), default=60.0)
    )
    default_target = (
        assumptions.default_cpu_target_percent
        if consumer.kind in (ConsumerKind.ENDPOINT, ConsumerKind.WEBAPP)
        else target_backlog_per_task(
            workload.acceptable_latency_seconds, average, consumer.threads_per_unit
        )
    )
    params = scaling_params(service, assumptions, default_target=default_target)
    if consumer.kind is not ConsumerKind.WEBAPP:
        return params
    # The web app scales on its own rule; busy poller threads count as its CPU load, so
    # task bursts can add tasks. Its own traffic keeps at least the workload's tasks up.
    floor = min(max(params.min_capacity, workload.webapp.tasks), params.max_capacity)
    return replace(params, min_capacity=floor, desired_count=max(params.desired_count, floor))


def relay(
    arrivals: Sequence[Arrival],
    shares: Mapping[str, float],
    assumptions: Assumptions,
    cap: int,
) -> tuple[list[Arrival], ConsumerRun | None]:
    """Pass each task's relayed share of arrivals through the invoker Lambda first."""
    if not shares:
        return list(arrivals), None
    picked: list[int] = []
    counts: dict[str, float] = {}
    for index, arrival in enumerate(arrivals):
        # Every 1/share-th arrival of a task, deterministically, goes through the invoker.
        share = shares.get(arrival.task, 0.0)
        before = counts.get(arrival.task, 0.0)
        counts[arrival.task] = before + share
        if math.floor(before + share) > math.floor(before) or (share and before == 0):
            picked.append(index)
    run_time = assumptions.metric_lambda_duration_seconds
    calls = [Arrival(arrivals[i].time, run_time, arrivals[i].task) for i in picked]
    invoker = simulate_lambda(calls, LambdaModel(max_concurrency=cap), assumptions)
    delayed = list(arrivals)
    for i, wait in zip(picked, invoker.waits, strict=True):
        delayed[i] = arrivals[i]._replace(
            time=arrivals[i].time + wait + run_time, delay=wait + run_time
        )
    delayed.sort(key=lambda a: a.time)
    return delayed, invoker


def _per_task(
    consumer: Consumer, run: ConsumerRun, workload: Workload, found: Sequence[Saturation]
) -> list[TaskLatency]:
    by_task = {s.task: s for s in found}
    result = []
    for name in consumer.tasks:
        waits = run.waits_of(name)
        if not waits:
            continue
        result.append(
            TaskLatency(
                task=name,
                samples=len(waits),
                duration_seconds=workload.task(name).duration_seconds,
                wait_p50=percentile(waits, 0.50),
                wait_p95=percentile(waits, 0.95),
                wait_max=max(waits),
                saturation=by_task.get(name),
            )
        )
    return result


def consumer_capacity(
    consumer: Consumer, workload: Workload, assumptions: Assumptions
) -> tuple[int, ScalingParams | None]:
    """(runs it can hold at once, its scaling rule if it is a Fargate service)."""
    if isinstance(consumer.resource, FunctionModel):
        return lambda_cap(consumer.resource), None
    params = fleet_scaling(consumer, workload, assumptions)
    return slots(consumer, params.max_capacity), params


def run_consumers(
    model: TopologyModel,
    scenario: Scenario,
    *,
    probe: bool = True,
    simulate_overloaded: bool = True,
) -> tuple[dict[str, ConsumerRun], LatencySummary | None]:
    """Simulate every consumer; None when the stack has no consumer yet.

    Runs are per-day averages over :func:`simulated_days` days (keys: consumer logical
    ids, plus invoker functions that relay arrivals). With ``simulate_overloaded`` off, a
    topology that cannot keep up is not simulated (it gets no cost anyway)."""
    workload, assumptions = scenario.workload, scenario.assumptions
    routing = model.routing
    if not routing.consumers:
        return {}, None
    if workload.volume_per_month == 0:
        probe = False  # nothing to wait for
    capacities = {
        c.logical_id: consumer_capacity(c, workload, assumptions) for c in routing.consumers
    }
    found = [
        s for c in routing.consumers for s in saturations(c, capacities[c.logical_id][0], workload)
    ]
    handled = {name for c in routing.consumers for name in c.tasks}
    found += [s for s in ses_saturations(workload, assumptions) if s.task in handled]
    scaling = {key: params for key, (_, params) in capacities.items() if params is not None}
    lambdas_only = all(c.kind is ConsumerKind.LAMBDA for c in routing.consumers)
    summary = LatencySummary(
        per_task=(),
        worst_after_idle_seconds=0.0,
        peak_units=0,
        unit_label="concurrent Lambda environments" if lambdas_only else "Fargate tasks",
        unfinished=0,
        scaling=scaling,
        saturations=tuple(found),
    )
    if not simulate_overloaded and not summary.keeps_up:
        return {}, summary
    days, cycle = simulated_days(workload, assumptions), workload.cycle_days
    runs: dict[str, ConsumerRun] = {}
    worst, peak, unfinished, refused = 0.0, 0, 0, 0.0
    per_task: list[TaskLatency] = []
    invokers = model.functions_with_role(ResourceRole.INVOKER)
    for consumer in routing.consumers:
        loads = [workload.task(n) for n in consumer.tasks]
        arrivals = merged_arrivals(loads, assumptions.seed, days, scenario.memo)
        longest = max((t.duration_seconds for t in loads), default=1.0)
        for invoker in invokers if consumer.kind is ConsumerKind.ENDPOINT else []:
            shares = relayed_share(model.triggers, invoker.logical_id, workload)
            cap = lambda_cap(invoker)
            arrivals, relayed = relay(arrivals, shares, assumptions, cap)
            if relayed is not None:
                runs[invoker.logical_id] = relayed.per_day(days, cycle)
        capacity, params = capacities[consumer.logical_id]
        if params is None:
            function = LambdaModel(max_concurrency=capacity)
            run = simulate_lambda(arrivals, function, assumptions)
            after_idle = (
                simulate_lambda(idle_probe(longest), function, assumptions) if probe else None
            )
        else:
            fleet = FleetModel(threads_per_task=consumer.threads_per_unit, scaling=params)
            run = simulate_fleet(arrivals, fleet, assumptions, horizon=days * DAY_SECONDS)
            after_idle = (
                simulate_fleet(idle_probe(longest), fleet, assumptions, horizon=7_200)
                if probe
                else None
            )
        mine = [s for s in found if s.consumer == consumer.logical_id]
        runs[consumer.logical_id] = run.per_day(days, cycle)
        per_task += _per_task(consumer, run, workload, mine)
        peak += run.peak_units
        unfinished += run.unfinished
        if consumer.kind is ConsumerKind.ENDPOINT:
            refused += run.waited / days * DAYS_PER_MONTH
        if after_idle is not None and after_idle.waits:
            worst = max(worst, after_idle.waits[0])
    return runs, replace(
        summary,
        per_task=tuple(per_task),
        worst_after_idle_seconds=worst,
        peak_units=peak,
        unfinished=unfinished,
        refused=refused,
    )


def web_app_baselines(model: TopologyModel, scenario: Scenario) -> dict[str, ConsumerRun]:
    """The web-app pollers simulated without task work: what they run for web traffic alone."""
    assumptions = scenario.assumptions
    idle = scenario.workload.scaled(0)
    return {
        consumer.logical_id: simulate_fleet(
            [],
            FleetModel(
                threads_per_task=consumer.threads_per_unit,
                scaling=fleet_scaling(consumer, idle, assumptions),
            ),
            assumptions,
        ).per_day(1)
        for consumer in model.routing.consumers
        if consumer.kind is ConsumerKind.WEBAPP
    }
