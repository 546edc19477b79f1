"""Stable results: small input changes move the headline figures a little, never a jump.

The simulation is discrete (10 s steps, one-minute alarm datapoints, whole tasks and
whole messages), so some movement is inherent. It is smoothed three ways, each tested
here or in test_simulation.py: common random numbers (the compared inputs draw the same
arrivals, a larger volume only adds some), an interpolated percentile, and a CPU reading
averaged over the metric period. What remains is bounded by the tolerances below.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from comparison.cost.estimate import monthly_cost
from comparison.inputs.prices import known_regions
from comparison.inputs.scenario import Scenario
from comparison.inputs.workload import TaskLoad, Workload, load_workload
from comparison.model.scaling import ScalingMetric, ScalingParams
from comparison.model.topology import topology_model
from comparison.simulate.simulation import (
    FleetModel,
    merged_arrivals,
    percentile,
    simulate_fleet,
)

SPIKY_WEEKLY = Path(__file__).parent / "fixtures" / "workloads" / "spiky-weekly.toml"

# For a 1% change of one input, the headline figures may move by at most:
TOTAL_TOLERANCE = 0.02
"""2% of the monthly total: the 1% itself on the usage part, plus the simulation's noise."""
P95_TOLERANCE = 0.15
P95_TOLERANCE_SECONDS = 30.0
"""15% of the worst p95 wait, or 30 s (three simulation steps), whichever is larger."""
PEAK_TOLERANCE = 1
"""One Fargate task or Lambda environment: a peak is a whole number."""


def _headline(stack, workload, london, assumptions):  # type: ignore[no-untyped-def]
    model = topology_model(stack, tuple(t.name for t in workload.tasks))
    cost, latency, _ = monthly_cost(
        model, Scenario(workload=workload, prices=london, assumptions=assumptions, free_tier=False)
    )
    assert latency is not None
    return cost.total, latency.p95_seconds, latency.peak_units


def _variants(workload: Workload) -> dict[str, Workload]:
    return {
        "volume -1%": workload.scaled(0.99),
        "volume +1%": workload.scaled(1.01),
        "duration -1%": workload.lengthened(0.99),
        "duration +1%": workload.lengthened(1.01),
    }


def _assert_within_tolerance(base, moved, label: str) -> None:  # type: ignore[no-untyped-def]
    total, p95, peak = base
    moved_total, moved_p95, moved_peak = moved
    assert abs(moved_total - total) <= TOTAL_TOLERANCE * total, (label, base, moved)
    assert abs(moved_p95 - p95) <= max(P95_TOLERANCE * p95, P95_TOLERANCE_SECONDS), (
        label,
        base,
        moved,
    )
    assert abs(moved_peak - peak) <= PEAK_TOLERANCE, (label, base, moved)


def _sweep(stack, workload, london, assumptions) -> None:  # type: ignore[no-untyped-def]
    base = _headline(stack, workload, london, assumptions)
    for label, variant in _variants(workload).items():
        _assert_within_tolerance(
            base, _headline(stack, variant, london, assumptions), f"{stack.label}, {label}"
        )


@pytest.fixture(scope="module")
def spiky_weekly() -> Workload:
    return load_workload(SPIKY_WEEKLY, known_regions=known_regions())


@pytest.mark.parametrize(
    "label", ["private-endpoints", "worker-service", "webapp-poller", "lambdas"]
)
def test_small_changes_of_a_spiky_workload_move_no_headline_figure_beyond_tolerance(
    real_templates, spiky_weekly, london, assumptions, label: str
) -> None:
    _sweep(real_templates[label], spiky_weekly, london, assumptions)


@pytest.mark.slow
@pytest.mark.parametrize(
    "label", ["private-endpoints", "worker-service", "webapp-poller", "lambdas"]
)
def test_small_changes_of_the_shipped_workload_move_no_headline_figure_beyond_tolerance(
    real_templates, workload, london, assumptions, label: str
) -> None:
    _sweep(real_templates[label], workload, london, assumptions)


def test_a_one_second_task_made_one_percent_longer_keeps_its_peak_and_p95(
    real_templates, spiky_weekly, london, assumptions
) -> None:
    # GIVEN the spiky run that moved private-endpoints from 2 tasks and 21.2 min to 4 tasks
    # and 13.5 min when 1.0 s became 1.01 s: runs ending on step boundaries read 0% CPU
    stack = real_templates["private-endpoints"]
    email = spiky_weekly.task("send-bulk-email")
    assert email.duration_seconds == 1.0
    longer = replace(spiky_weekly, tasks=(replace(email, duration_seconds=1.01),))
    one, more = (_headline(stack, w, london, assumptions) for w in (spiky_weekly, longer))
    # THEN the peak is the same and the p95 moves by about the 1%
    assert one[2] == more[2]
    assert more[1] == pytest.approx(one[1], rel=0.03)


def _fixed_fleet(tasks: int, threads: int) -> FleetModel:
    params = ScalingParams(
        min_capacity=tasks,
        max_capacity=tasks,
        desired_count=tasks,
        metric=ScalingMetric.NONE,
        target=0.0,
        scale_in_cooldown_seconds=60.0,
        scale_out_cooldown_seconds=60.0,
        metric_period_seconds=60.0,
        step_rules=(),
        from_template=(),
    )
    return FleetModel(threads_per_task=threads, scaling=params)


def _p95_at(load: TaskLoad, fleet: FleetModel, assumptions, seeds=(33,)) -> float:  # type: ignore[no-untyped-def]
    """The p95 wait over three days, averaged over ``seeds``."""
    p95s = [
        percentile(
            simulate_fleet(merged_arrivals([load], seed, 3), fleet, assumptions, 3 * 86_400).waits,
            0.95,
        )
        for seed in seeds
    ]
    return sum(p95s) / len(p95s)


FACTORS = (0.95, 0.97, 0.99, 1, 1.01, 1.03, 1.05)


def test_p95_wait_does_not_fall_as_duration_grows_at_fixed_capacity(workload, assumptions) -> None:
    # GIVEN generate-report's 09:00 burst on a fixed fleet of 2 single-thread tasks, and
    # the same arrivals at each duration
    report = workload.task("generate-report")
    fleet = _fixed_fleet(tasks=2, threads=1)
    p95s = [_p95_at(report.lengthened(f), fleet, assumptions) for f in FACTORS]
    # THEN the p95 never falls, and rises over the range
    assert p95s == sorted(p95s) and p95s[-1] > p95s[0], p95s


def test_p95_wait_does_not_fall_as_volume_grows_at_fixed_capacity(workload, assumptions) -> None:
    # GIVEN the same burst at growing volumes. A larger volume keeps every arrival and adds
    # a few, and no one waits less; but the added ones may land in quiet minutes, so one
    # seed's sample p95 can dip by a fraction of a percent (a sample is discrete). Over
    # five seeds the dips average out.
    report = workload.task("generate-report")
    fleet = _fixed_fleet(tasks=2, threads=1)
    seeds = range(assumptions.seed, assumptions.seed + 5)
    p95s = [_p95_at(report.scaled(f), fleet, assumptions, seeds) for f in FACTORS]
    # THEN the p95 never falls, and rises over the range
    assert p95s == sorted(p95s) and p95s[-1] > p95s[0], p95s


def test_more_volume_keeps_every_arrival_and_adds_some(workload, assumptions) -> None:
    report = workload.task("generate-report")
    base, more = (
        set(merged_arrivals([load], assumptions.seed, 3)) for load in (report, report.scaled(1.05))
    )
    assert base < more


@pytest.mark.slow  # three seeds of the full simulation for each topology (1-1.5 s each)
@pytest.mark.parametrize("label", ["worker-service", "webapp-poller", "lambdas"])
def test_totals_between_seeds_stay_within_the_reported_spread(
    real_models, workload, london, assumptions, label: str
) -> None:
    stack = real_models[label]
    results = [
        monthly_cost(
            stack,
            Scenario(
                workload=workload,
                prices=london,
                assumptions=replace(assumptions, seed=seed),
                free_tier=False,
            ),
        )[0]
        for seed in (33, 34, 35)
    ]
    totals = [r.total for r in results]
    mean = sum(totals) / len(totals)
    # Each seed's own 95% half-width, or the 1% the issue asks for, whichever is larger.
    allowed = max(1.5 * max(r.spread for r in results), 0.01)
    assert (max(totals) - min(totals)) / mean <= 2 * allowed, (totals, allowed)
    if (max(totals) - min(totals)) / mean > 0.01:
        assert min(r.spread for r in results) > 0, "a spread above 1% must be reported"
