"""The comparison: every topology costed and simulated under one workload.

:func:`compare` returns plain frozen data; the table, JSON, Markdown and HTML renderers
all draw from it, so the formats cannot disagree.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

from comparison.cost.baseline import baseline_breakdown
from comparison.cost.costing import CostBreakdown, price_usage
from comparison.cost.usage import UsageContext, extract_usage
from comparison.inputs.prices import PriceTable
from comparison.inputs.qualitative import QUALITIES, Qualities
from comparison.inputs.scenario import Scenario
from comparison.inputs.workload import Network, Workload
from comparison.model.routing import ConsumerKind, Routing
from comparison.model.topology import TopologyModel
from comparison.simulate.capacity import SES_RATE, Saturation
from comparison.simulate.latency import LatencySummary, run_consumers, web_app_baselines


@dataclass(frozen=True, kw_only=True)
class TopologyReport:
    label: str
    stack_id: str
    kind: ConsumerKind | None
    complete: bool
    status: str
    cost: CostBreakdown
    idle: CostBreakdown
    latency: LatencySummary | None
    qualities: Qualities | None
    model: TopologyModel

    @property
    def keeps_up(self) -> bool:
        return self.latency is None or self.latency.keeps_up

    @property
    def monthly_total(self) -> float | None:
        """The increment over the baseline; None for an option that cannot keep up."""
        return self.cost.total if self.keeps_up else None


@dataclass(frozen=True, kw_only=True)
class SweepPoint:
    volume_per_month: float
    totals: dict[str, float]
    """Monthly increment of each topology that keeps up at this volume."""
    chosen: str | None
    """The decision at this volume: the cheapest option that keeps up and meets every
    ``max_wait`` (None: none does)."""
    overloaded: tuple[str, ...] = ()
    """Topologies that cannot keep up at this volume (no cost is given for them)."""
    missing_targets: tuple[str, ...] = ()
    """Topologies that keep up at this volume but miss a ``max_wait`` (or run a task too
    long for them): they have a cost and are not eligible."""

    @property
    def eligible(self) -> tuple[str, ...]:
        return tuple(label for label in self.totals if label not in self.missing_targets)


@dataclass(frozen=True, kw_only=True)
class CrossOver:
    volume_per_month: float
    from_label: str
    to_label: str


@dataclass(frozen=True, kw_only=True)
class CapacityLimit:
    """The total monthly volume (the workload's mix) past which a topology cannot keep up,
    and the task type whose consumer saturates first."""

    label: str
    volume_per_month: float
    task: str


@dataclass(frozen=True, kw_only=True)
class Sweep:
    points: tuple[SweepPoint, ...]
    cross_overs: tuple[CrossOver, ...]
    """Where the chosen option changes because costs cross."""
    capacity_limits: tuple[CapacityLimit, ...] = ()
    not_simulated: tuple[float, ...] = ()
    """Volumes left out: their simulated period holds more arrivals than the sweep runs."""


@dataclass(frozen=True, kw_only=True)
class Comparison:
    workload: Workload
    region: str
    free_tier: bool
    price_dates: tuple[str, ...]
    topologies: tuple[TopologyReport, ...]
    baseline: CostBreakdown
    """The web app as it runs today, with its tasks and network: in every topology, and
    every topology's cost is the increment over it."""
    network: Network = Network.SHARED
    sweep: Sweep | None = None

    @property
    def web_app_baseline(self) -> float:
        return self.baseline.total

    @property
    def cheapest(self) -> str | None:
        """The cheapest complete topology that keeps up."""
        coping = [t for t in self.topologies if t.complete and t.keeps_up]
        return min(coping, key=lambda t: t.cost.total).label if coping else None


def monthly_cost(
    model: TopologyModel,
    scenario: Scenario,
    *,
    probe: bool = True,
    simulate_overloaded: bool = True,
    spread: bool = True,
) -> tuple[CostBreakdown, LatencySummary | None, Routing]:
    """One topology's monthly cost under the scenario, and its simulated latency;
    ``spread`` off skips pricing each simulated day (the sizing search's trials)."""
    runs, latency = run_consumers(
        model, scenario, probe=probe, simulate_overloaded=simulate_overloaded
    )
    baselines = web_app_baselines(model, scenario)
    context = UsageContext(model, scenario.workload, scenario.assumptions, runs, baselines)
    table, free_tier = scenario.prices, scenario.free_tier
    cost = price_usage(extract_usage(context), table, free_tier=free_tier)
    if not spread:
        return cost, latency, model.routing
    return replace(cost, spread=_spread(context, table, free_tier)), latency, model.routing


def _spread(context: UsageContext, table: PriceTable, free_tier: bool) -> float:
    """1.96 standard errors of the mean of the totals priced one simulated day at a time:
    about the range the total moves between seeds (issue: stable results)."""
    days = max((len(run.daily) for run in context.runs.values()), default=0)
    if days < 2:
        return 0.0
    totals = [
        price_usage(
            extract_usage(replace(context, runs={k: r.day(i) for k, r in context.runs.items()})),
            table,
            free_tier=free_tier,
        ).total
        for i in range(days)
    ]
    mean = statistics.fmean(totals)
    return 1.96 * statistics.stdev(totals) / math.sqrt(days) / mean if mean else 0.0


def estimate_topology(model: TopologyModel, scenario: Scenario) -> TopologyReport:
    cost, latency, routing = monthly_cost(model, scenario)
    idle_scenario = scenario.with_workload(scenario.workload.scaled(0))
    idle, _, _ = monthly_cost(model, idle_scenario, probe=False)
    kind = model.kind
    complete = not routing.unrouted
    return TopologyReport(
        label=model.label,
        stack_id=model.stack_id,
        kind=kind,
        complete=complete,
        status=_status(routing, latency),
        cost=cost,
        idle=idle,
        latency=latency,
        qualities=QUALITIES.get(kind) if kind else None,
        model=model,
    )


def _status(routing: Routing, latency: LatencySummary | None) -> str:
    if routing.unrouted:
        return (
            "PLACEHOLDER: nothing in the stack processes "
            + ", ".join(routing.unrouted)
            + "; costs cover only the resources present and latency is not simulated"
        )
    if latency is not None and not latency.keeps_up:
        full = [s for s in latency.saturations if s.active and not s.keeps_up]
        where = "; ".join(_saturated(s) for s in full)
        return "complete; CANNOT KEEP UP: " + (
            where or f"{latency.unfinished} messages still wait after the simulated days"
        )
    return "complete"


def _saturated(saturation: Saturation) -> str:
    if saturation.consumer == SES_RATE:
        return (
            f"{saturation.task} saturates the account's SES send rate ({saturation.slots}/s) "
            f"at {saturation.saturates_at:,.0f}/month"
        )
    return (
        f"{saturation.task} saturates at {saturation.saturates_at:,.0f}/month "
        f"({saturation.slots} at once)"
    )


def compare(models: Sequence[TopologyModel], scenario: Scenario) -> Comparison:
    """Every topology under the scenario; add a sweep with
    :func:`comparison.decide.sweep.with_sweep`."""
    workload, table = scenario.workload, scenario.prices
    topologies = tuple(estimate_topology(m, scenario) for m in models)
    return Comparison(
        workload=workload,
        region=table.region,
        free_tier=scenario.free_tier,
        price_dates=tuple(sorted({price.date for price in table.prices.values()})),
        topologies=topologies,
        baseline=baseline_breakdown(models, workload, table),
        network=workload.network,
    )
