"""Vary the monthly volume over orders of magnitude and find where the decision changes.

At each volume the decision's own rule picks the option (:func:`comparison.decide.decision.
judge`): the cheapest that keeps up and meets every ``max_wait``, so a band of the sweep
never names an option the decision would refuse there. The workload's mix and patterns
stay; every task's volume scales by the same factor.
Between two sampled volumes the cross-over is interpolated on log-log axes, where the
cost curves are close to straight lines.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import replace

from comparison.cost.estimate import (
    CapacityLimit,
    Comparison,
    CrossOver,
    Sweep,
    SweepPoint,
    monthly_cost,
)
from comparison.decide.decision import judge, rank
from comparison.inputs.scenario import Scenario
from comparison.inputs.workload import MAX_SIMULATED_ARRIVALS, simulated_arrivals
from comparison.model.topology import TopologyModel
from comparison.simulate.latency import LatencySummary

DEFAULT_VOLUMES = tuple(10 ** (exponent / 2) for exponent in range(4, 15))  # 1e2 .. 1e7
SWEEP_MAX_ARRIVALS = 4 * MAX_SIMULATED_ARRIVALS
"""A swept volume whose simulated period (one day at 30 s steps for a daily workload, a
week for a weekly one) holds more arrivals is left out and named: the shipped workload
reaches 1e7 a month in one day (about 330,000 arrivals), a weekly one would take minutes."""
# A coarser step keeps a sweep of the largest volumes within seconds.
_SWEEP_STEP_SECONDS = 30.0


def sweep(
    models: Sequence[TopologyModel],
    scenario: Scenario,
    *,
    volumes: Sequence[float] = DEFAULT_VOLUMES,
    progress: Callable[[str], None] | None = None,
) -> Sweep:
    """Cost of every option that keeps up, at each volume, and the decision there."""
    # One day per volume: the sweep locates cross-overs and limits, not cents.
    coarse = scenario.with_assumptions(
        replace(scenario.assumptions, step_seconds=_SWEEP_STEP_SECONDS, max_simulated_days=1)
    )
    workload = scenario.workload
    base = workload.volume_per_month or 1.0
    points = []
    skipped: list[float] = []
    limits: dict[str, CapacityLimit] = {}
    for number, volume in enumerate(volumes, start=1):
        if progress is not None:
            progress(f"sweep {number}/{len(volumes)}: {volume:,.0f} tasks/month")
        scaled = workload.scaled(volume / base) if workload.volume_per_month else workload
        if simulated_arrivals(scaled.tasks)[0] > SWEEP_MAX_ARRIVALS:
            skipped.append(volume)
            continue
        totals: dict[str, float] = {}
        overloaded: list[str] = []
        verdicts = []
        for model in models:
            cost, latency, routing = monthly_cost(
                model, coarse.with_workload(scaled), probe=False, simulate_overloaded=False
            )
            if routing.unrouted:  # placeholders would look free; leave them out
                continue
            if latency is not None and not latency.keeps_up:
                overloaded.append(model.label)
            else:
                totals[model.label] = cost.total
            verdicts.append(
                judge(
                    model,
                    complete=True,
                    cost=cost.total,
                    idle=0.0,
                    latency=latency,
                    workload=scaled,
                )
            )
            if latency is not None and model.label not in limits:
                limit = capacity_limit(model.label, latency, scaled.volume_per_month)
                if limit is not None:
                    limits[model.label] = limit
        decision = rank(verdicts, scaled)
        points.append(
            SweepPoint(
                volume_per_month=volume,
                totals=totals,
                chosen=decision.chosen,
                overloaded=tuple(overloaded),
                missing_targets=tuple(
                    v.label for v in decision.ranked if v.keeps_up and not v.eligible
                ),
            )
        )
    return Sweep(
        points=tuple(points),
        cross_overs=tuple(cross_overs(points)),
        capacity_limits=tuple(sorted(limits.values(), key=lambda c: c.volume_per_month)),
        not_simulated=tuple(skipped),
    )


def capacity_limit(label: str, latency: LatencySummary, volume: float) -> CapacityLimit | None:
    """The total volume (same mix) at which the most loaded consumer is busy all the time."""
    active = (s for s in latency.saturations if s.active)
    loaded = max(active, key=lambda s: s.utilisation, default=None)
    if loaded is None or loaded.utilisation <= 0 or not volume:
        return None
    return CapacityLimit(
        label=label, volume_per_month=volume / loaded.utilisation, task=loaded.task
    )


def cross_overs(points: Sequence[SweepPoint]) -> list[CrossOver]:
    """Where the chosen option changes because costs cross: both options eligible on both
    sides. A change because the old choice stops keeping up is a capacity limit, and one
    because it misses a ``max_wait`` is a target limit; neither is a cross-over."""
    found = []
    for before, after in itertools.pairwise(points):
        old, new = before.chosen, after.chosen
        if old is None or new is None or old == new:
            continue
        if not (old in after.eligible and new in before.eligible):
            continue
        found.append(
            CrossOver(
                volume_per_month=_intersection(before, after, old, new),
                from_label=old,
                to_label=new,
            )
        )
    return found


def _intersection(before: SweepPoint, after: SweepPoint, old: str, new: str) -> float:
    x0, x1 = math.log10(before.volume_per_month), math.log10(after.volume_per_month)

    def gap(point: SweepPoint) -> float:  # log cost of old minus new; changes sign between
        return math.log10(max(point.totals[old], 1e-9)) - math.log10(max(point.totals[new], 1e-9))

    g0, g1 = gap(before), gap(after)
    fraction = g0 / (g0 - g1) if g0 != g1 else 0.5
    return 10 ** (x0 + min(1.0, max(0.0, fraction)) * (x1 - x0))


def with_sweep(
    comparison: Comparison,
    models: Sequence[TopologyModel],
    scenario: Scenario,
    volumes: Sequence[float] = DEFAULT_VOLUMES,
    progress: Callable[[str], None] | None = None,
) -> Comparison:
    """The comparison with a volume sweep attached, for the cost-against-volume chart."""
    result = sweep(models, scenario, volumes=volumes, progress=progress)
    return replace(comparison, sweep=result)


def chosen_bands(
    sweep: Sweep, flips: Sequence[tuple[float, str | None]] = ()
) -> dict[str, list[tuple[float, float]]]:
    """Per option, the monthly volumes (the workload's mix) where the decision picks it
    (the cheapest that keeps up and meets every max_wait), from the sweep: each band runs
    between the sampled volumes' boundaries. Between two samples the boundary is the
    search's flip to the next choice (``flips``: volume, what the decision becomes),
    else the cost cross-over or capacity limit there, else their geometric mean."""
    if not sweep.points:
        return {}
    points = sweep.points
    limits = {c.label: c.volume_per_month for c in sweep.capacity_limits}

    def boundary(i: int) -> float:
        before, after = points[i], points[i + 1]
        low, high = before.volume_per_month, after.volume_per_month
        for volume, becomes in flips:
            if low <= volume <= high and becomes == after.chosen:
                return volume
        for crossing in sweep.cross_overs:
            if crossing.from_label == before.chosen and low <= crossing.volume_per_month <= high:
                return crossing.volume_per_month
        limit = limits.get(before.chosen or "")
        if limit is not None and low <= limit <= high:
            return limit
        return float((low * high) ** 0.5)

    bands: dict[str, list[tuple[float, float]]] = {}
    start = points[0].volume_per_month
    for i, point in enumerate(points):
        last = i == len(points) - 1
        if last or points[i + 1].chosen != point.chosen:
            end = point.volume_per_month if last else boundary(i)
            if point.chosen is not None:
                bands.setdefault(point.chosen, []).append((start, end))
            start = end
            if not last and points[i + 1].chosen is None and point.chosen is not None:
                # Past the cheapest's capacity limit, before the next sample where none
                # keeps up: the cheapest of those that keep up further, up to its limit.
                further = [
                    label
                    for label in point.eligible
                    if limits.get(label, float("inf")) > end and label != point.chosen
                ]
                if further:
                    label = min(further, key=point.totals.__getitem__)
                    top = min(limits.get(label, float("inf")), points[i + 1].volume_per_month)
                    bands.setdefault(label, []).append((end, top))
                    start = top
    return bands
