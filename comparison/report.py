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
from comparison.decide.qualitative import QUALITIES, Qualities
from comparison.inputs.assumptions import Assumptions
from comparison.inputs.prices import PriceTable
from comparison.inputs.templates import StackTemplate
from comparison.inputs.workload import Network, Workload
from comparison.model.routing import ConsumerKind, Routing
from comparison.model.topology import TopologyModel, topology_model
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
    template: StackTemplate
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
    cheapest: str | None
    """The cheapest topology that keeps up with the volume (None: none does)."""
    overloaded: tuple[str, ...] = ()
    """Topologies that cannot keep up at this volume (no cost is given for them)."""


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
    """Where the cheapest option that keeps up changes because costs cross."""
    capacity_limits: tuple[CapacityLimit, ...] = ()


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
    template: StackTemplate,
    workload: Workload,
    table: PriceTable,
    assumptions: Assumptions,
    *,
    free_tier: bool,
    probe: bool = True,
    simulate_overloaded: bool = True,
) -> tuple[CostBreakdown, LatencySummary | None, Routing]:
    """One topology's monthly cost under ``workload``, and its simulated latency."""
    model = topology_model(
        template,
        tuple(task.name for task in workload.tasks),
        poller_threads=assumptions.default_poller_threads,
        endpoint_workers=assumptions.endpoint_workers_per_task,
    )
    routing = model.routing
    runs, latency = run_consumers(
        template,
        routing,
        workload,
        assumptions,
        probe=probe,
        simulate_overloaded=simulate_overloaded,
    )
    baselines = web_app_baselines(template, routing, workload, assumptions)
    context = UsageContext(template, workload, assumptions, routing, runs, baselines, model)
    cost = price_usage(extract_usage(context), table, free_tier=free_tier)
    return replace(cost, spread=_spread(context, table, free_tier)), latency, routing


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


def estimate_topology(
    template: StackTemplate,
    workload: Workload,
    table: PriceTable,
    assumptions: Assumptions,
    *,
    free_tier: bool,
) -> TopologyReport:
    cost, latency, routing = monthly_cost(
        template, workload, table, assumptions, free_tier=free_tier
    )
    idle, _, _ = monthly_cost(
        template, workload.scaled(0), table, assumptions, free_tier=free_tier, probe=False
    )
    kind = template.kind
    complete = not routing.unrouted
    return TopologyReport(
        label=template.label,
        stack_id=template.stack_id,
        kind=kind,
        complete=complete,
        status=_status(routing, latency),
        cost=cost,
        idle=idle,
        latency=latency,
        qualities=QUALITIES.get(kind) if kind else None,
        template=template,
        model=topology_model(
            template,
            tuple(task.name for task in workload.tasks),
            poller_threads=assumptions.default_poller_threads,
            endpoint_workers=assumptions.endpoint_workers_per_task,
        ),
    )


def _status(routing: Routing, latency: LatencySummary | None) -> str:
    if routing.unrouted:
        return (
            "PLACEHOLDER: nothing in the stack processes "
            + ", ".join(routing.unrouted)
            + "; costs cover only the resources present and latency is not simulated"
        )
    if latency is not None and not latency.keeps_up:
        full = [s for s in latency.saturations if not s.keeps_up]
        where = "; ".join(
            f"{s.task} saturates at {s.saturates_at:,.0f}/month ({s.slots} at once)" for s in full
        )
        return "complete; CANNOT KEEP UP: " + (
            where or f"{latency.unfinished} messages still wait after the simulated days"
        )
    return "complete"


def compare(
    templates: Sequence[StackTemplate],
    workload: Workload,
    table: PriceTable,
    assumptions: Assumptions,
    *,
    free_tier: bool,
) -> Comparison:
    """Every topology under ``workload``; add a sweep with
    :func:`comparison.decide.sweep.with_sweep`."""
    topologies = tuple(
        estimate_topology(t, workload, table, assumptions, free_tier=free_tier) for t in templates
    )
    return Comparison(
        workload=workload,
        region=table.region,
        free_tier=free_tier,
        price_dates=tuple(sorted({price.date for price in table.prices.values()})),
        topologies=topologies,
        baseline=baseline_breakdown(templates, workload, table),
        network=workload.network,
    )
