"""Build a simulation model per consumer from its template resources, run the day, summarise."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace

from comparison.assumptions import Assumptions
from comparison.routing import Consumer, ConsumerKind, Routing, event_source_mappings
from comparison.scaling import ScalingParams, scaling_params
from comparison.simulation import (
    ConsumerRun,
    FleetModel,
    LambdaModel,
    daily_arrivals,
    idle_probe,
    percentile,
    simulate_fleet,
    simulate_lambda,
)
from comparison.templates import StackTemplate
from comparison.workload import Workload

ACCOUNT_CONCURRENCY = 1000  # the default regional Lambda concurrency quota


@dataclass(frozen=True, kw_only=True)
class LatencySummary:
    """Enqueue-to-start times in seconds over the simulated day."""

    p50_seconds: float
    p95_seconds: float
    max_seconds: float
    worst_after_idle_seconds: float
    peak_units: int
    unit_label: str
    samples: int
    unfinished: int
    scaling: Mapping[str, ScalingParams]
    """Per Fargate service: the scaling rule the simulation used."""


def _lambda_cap(template: StackTemplate, consumer: Consumer) -> int:
    for mapping in event_source_mappings(template, consumer.logical_id):
        cap = mapping.properties.get("ScalingConfig", {}).get("MaximumConcurrency")
        if isinstance(cap, int):
            return cap
    reserved = consumer.resource.properties.get("ReservedConcurrentExecutions")
    return reserved if isinstance(reserved, int) else ACCOUNT_CONCURRENCY


def fleet_scaling(
    template: StackTemplate, consumer: Consumer, workload: Workload, assumptions: Assumptions
) -> ScalingParams:
    """The service's scaling rule, with the documented defaults where the template is silent."""
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
        else max(1.0, workload.acceptable_latency_seconds / average)
    )
    params = scaling_params(template, consumer.resource, assumptions, default_target=default_target)
    if consumer.kind is not ConsumerKind.WEBAPP:
        return params
    # The web app scales on its own rule; busy poller threads count as its CPU load, so
    # task bursts can add tasks. Its own traffic keeps at least the workload's tasks up.
    floor = min(max(params.min_capacity, workload.webapp.tasks), params.max_capacity)
    return replace(params, min_capacity=floor, desired_count=max(params.desired_count, floor))


def run_consumers(
    template: StackTemplate,
    routing: Routing,
    workload: Workload,
    assumptions: Assumptions,
    *,
    probe: bool = True,
) -> tuple[dict[str, ConsumerRun], LatencySummary | None]:
    """Simulate every consumer for one day; None when the stack has no consumer yet."""
    if not routing.consumers:
        return {}, None
    if workload.volume_per_month == 0:
        probe = False  # nothing to wait for
    rng = random.Random(assumptions.seed)
    runs: dict[str, ConsumerRun] = {}
    worst, peak, unfinished = 0.0, 0, 0
    waits: list[float] = []
    scaling: dict[str, ScalingParams] = {}
    for consumer in routing.consumers:
        arrivals = daily_arrivals([workload.task(n) for n in consumer.tasks], rng)
        longest = max((workload.task(n).duration_seconds for n in consumer.tasks), default=1.0)
        if consumer.kind is ConsumerKind.LAMBDA:
            model = LambdaModel(max_concurrency=_lambda_cap(template, consumer))
            run = simulate_lambda(arrivals, model, assumptions)
            after_idle = simulate_lambda(idle_probe(longest), model, assumptions) if probe else None
        else:
            params = fleet_scaling(template, consumer, workload, assumptions)
            scaling[consumer.logical_id] = params
            fleet = FleetModel(threads_per_task=consumer.threads_per_unit, scaling=params)
            run = simulate_fleet(arrivals, fleet, assumptions)
            after_idle = (
                simulate_fleet(idle_probe(longest), fleet, assumptions, horizon=7_200)
                if probe
                else None
            )
        runs[consumer.logical_id] = run
        waits.extend(run.waits)
        peak += run.peak_units
        unfinished += run.unfinished
        if after_idle is not None and after_idle.waits:
            worst = max(worst, after_idle.waits[0])
    lambdas_only = all(c.kind is ConsumerKind.LAMBDA for c in routing.consumers)
    summary = LatencySummary(
        p50_seconds=percentile(waits, 0.50),
        p95_seconds=percentile(waits, 0.95),
        max_seconds=max(waits, default=0.0),
        worst_after_idle_seconds=worst,
        peak_units=peak,
        unit_label="concurrent Lambda environments" if lambdas_only else "Fargate tasks",
        samples=len(waits),
        unfinished=unfinished,
        scaling=scaling,
    )
    return runs, summary


def web_app_baselines(
    template: StackTemplate, routing: Routing, workload: Workload, assumptions: Assumptions
) -> dict[str, ConsumerRun]:
    """The web-app pollers simulated without task work: what they run for web traffic alone."""
    idle = workload.scaled(0)
    return {
        consumer.logical_id: simulate_fleet(
            [],
            FleetModel(
                threads_per_task=consumer.threads_per_unit,
                scaling=fleet_scaling(template, consumer, idle, assumptions),
            ),
            assumptions,
        )
        for consumer in routing.consumers
        if consumer.kind is ConsumerKind.WEBAPP
    }
