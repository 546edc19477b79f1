"""Vary the monthly volume over orders of magnitude and find where the cheapest option changes.

The workload's mix and patterns stay; every task's volume scales by the same factor.
Between two sampled volumes the cross-over is interpolated on log-log axes, where the
cost curves are close to straight lines.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import replace

from comparison.assumptions import Assumptions
from comparison.prices import PriceTable
from comparison.report import Comparison, CrossOver, Sweep, SweepPoint, monthly_cost
from comparison.templates import StackTemplate
from comparison.workload import Workload

DEFAULT_VOLUMES = tuple(10 ** (exponent / 2) for exponent in range(4, 15))  # 1e2 .. 1e7
# A coarser step keeps a sweep of the largest volumes within seconds.
_SWEEP_STEP_SECONDS = 30.0


def sweep(
    templates: Sequence[StackTemplate],
    workload: Workload,
    table: PriceTable,
    assumptions: Assumptions,
    *,
    free_tier: bool,
    volumes: Sequence[float] = DEFAULT_VOLUMES,
) -> Sweep:
    coarse = replace(assumptions, step_seconds=_SWEEP_STEP_SECONDS)
    base = workload.volume_per_month or 1.0
    points = []
    for volume in volumes:
        scaled = workload.scaled(volume / base) if workload.volume_per_month else workload
        totals: dict[str, float] = {}
        overloaded: list[str] = []
        for template in templates:
            cost, latency, routing = monthly_cost(
                template, scaled, table, coarse, free_tier=free_tier, probe=False
            )
            if routing.unrouted:  # placeholders would look free; leave them out
                continue
            totals[template.label] = cost.total
            if latency is not None and latency.unfinished:
                overloaded.append(template.label)
        coping = {label: total for label, total in totals.items() if label not in overloaded}
        if coping:
            points.append(
                SweepPoint(
                    volume_per_month=volume,
                    totals=totals,
                    cheapest=min(coping, key=coping.__getitem__),
                    overloaded=tuple(overloaded),
                )
            )
    return Sweep(points=tuple(points), cross_overs=tuple(cross_overs(points)))


def cross_overs(points: Sequence[SweepPoint]) -> list[CrossOver]:
    found = []
    for before, after in itertools.pairwise(points):
        if before.cheapest == after.cheapest:
            continue
        old, new = before.cheapest, after.cheapest
        # Where the old winner stops keeping up, the change happens by the next sample.
        coping = old not in after.overloaded and old in after.totals and new in before.totals
        found.append(
            CrossOver(
                volume_per_month=(
                    _intersection(before, after, old, new) if coping else after.volume_per_month
                ),
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
    templates: Sequence[StackTemplate],
    table: PriceTable,
    assumptions: Assumptions,
    volumes: Sequence[float] = DEFAULT_VOLUMES,
) -> Comparison:
    """The comparison with a volume sweep attached, for the cost-against-volume chart."""
    result = sweep(
        templates,
        comparison.workload,
        table,
        assumptions,
        free_tier=comparison.free_tier,
        volumes=volumes,
    )
    return replace(comparison, sweep=result)
