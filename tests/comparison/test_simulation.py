"""The simulator reproduces the worker-service scaling rules and Lambda's concurrency."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from comparison.inputs.assumptions import DAYS_PER_MONTH
from comparison.inputs.patterns import EVERY_DAY
from comparison.inputs.prices import known_regions
from comparison.inputs.workload import Workload, load_workload
from comparison.simulate.latency import fleet_scaling, simulated_days
from comparison.simulate.simulation import (
    DAY_SECONDS,
    Arrival,
    ConsumerRun,
    DayCounts,
    FleetModel,
    LambdaModel,
    percentile,
    simulate_fleet,
    simulate_lambda,
    task_arrivals,
)
from tests.comparison.fixture_stacks import WORKER_THREADS
from tests.comparison.helpers import without_waker


@pytest.fixture(scope="module")
def worker(fixture_models, workload, assumptions) -> FleetModel:
    (consumer,) = fixture_models["Fixture-WorkerService"].routing.consumers
    params = fleet_scaling(consumer, workload, assumptions)
    return FleetModel(threads_per_task=consumer.threads_per_unit, scaling=params)


def _seconds_to_first_task(run, dt: float, after: float) -> float:  # type: ignore[no-untyped-def]
    first = next(i for i, tasks in enumerate(run.timeline) if tasks >= 1 and i * dt >= after)
    return first * dt - after


def test_one_message_wakes_the_service_from_zero_within_about_three_minutes(
    worker, assumptions
) -> None:
    # GIVEN 0 tasks and one message, far below the backlog target of 2.5 per task
    run = simulate_fleet([Arrival(600.001, 30.0)], worker, assumptions, horizon=3_600)
    # THEN a task is launched after one datapoint and the work starts within ~3 minutes
    assert run.timeline[0] == 0
    assert _seconds_to_first_task(run, assumptions.step_seconds, 600) <= 120
    assert run.waits[0] <= 180
    assert run.waits[0] >= assumptions.fargate_start_seconds


def test_busy_service_holding_only_in_flight_messages_is_not_scaled_in(worker, assumptions) -> None:
    # GIVEN two 30-minute tasks that keep both poller threads of one task busy
    arrivals = [Arrival(0.5, 1_800.0), Arrival(1.0, 1_800.0)]
    run = simulate_fleet(arrivals, worker, assumptions, horizon=3_600)
    start = _seconds_to_first_task(run, assumptions.step_seconds, 0)
    busy_steps = run.timeline[
        int(start / assumptions.step_seconds) + 1 : int((start + 1_800) / assumptions.step_seconds)
    ]
    # THEN the task is never stopped while it holds the messages
    assert min(busy_steps) >= 1
    assert len(run.waits) == 2
    assert WORKER_THREADS == 2


def test_service_returns_to_zero_after_the_queue_drains(worker, assumptions) -> None:
    arrivals = [Arrival(60.0 + i, 20.0) for i in range(20)]
    run = simulate_fleet(arrivals, worker, assumptions, horizon=3_600)
    assert max(run.timeline) >= 1
    assert run.timeline[-1] == 0
    assert run.unfinished == 0


def test_scale_out_follows_backlog_per_task(worker, assumptions) -> None:
    # GIVEN 200 one-minute messages at once: 200 / 2.5 wants 80 tasks, capped at 10
    arrivals = [Arrival(100.0 + i * 0.01, 60.0) for i in range(200)]
    run = simulate_fleet(arrivals, worker, assumptions, horizon=3_600)
    assert run.peak_units == worker.scaling.max_capacity


def test_template_defaults_apply_where_the_template_is_silent(worker, assumptions) -> None:
    slower = replace(assumptions, fargate_start_seconds=120)
    fast, slow = (
        simulate_fleet([Arrival(600.001, 1.0)], worker, a, horizon=3_600)
        for a in (assumptions, slower)
    )
    assert slow.waits[0] - fast.waits[0] == pytest.approx(45)


def test_lambda_reuses_warm_environments_and_queues_at_its_cap(assumptions) -> None:
    model = LambdaModel(max_concurrency=2)
    arrivals = [Arrival(0.0, 100.0), Arrival(0.0, 100.0), Arrival(0.0, 100.0), Arrival(500.0, 1.0)]
    run = simulate_lambda(arrivals, model, assumptions)
    cold = assumptions.lambda_poll_delay_seconds + assumptions.lambda_cold_start_seconds
    assert run.waits[:2] == (cold, cold)
    assert run.waits[2] == pytest.approx(cold + 100 - 0.0)  # waits for the first to finish
    assert run.waits[3] == assumptions.lambda_poll_delay_seconds  # warm again
    assert (run.cold_starts, run.peak_units) == (2, 2)


def test_wake_up_step_does_not_ratchet_while_its_task_starts(worker, assumptions) -> None:
    # GIVEN one message and a start slower than the step's 60 s cooldown: the alarm stays
    # in ALARM for a datapoint while the task starts, and Auto Scaling would act again
    slow = replace(assumptions, fargate_start_seconds=150)
    run = simulate_fleet([Arrival(600.001, 30.0)], worker, slow, horizon=3_600)
    # THEN WakeUpSignal is 0 once the desired count is 1 (the runtime's formula): one task
    assert run.peak_units == 1
    assert run.starts == 1


def _worker_runs(template, workload, london, assumptions):  # type: ignore[no-untyped-def]
    from comparison.inputs.scenario import Scenario
    from comparison.model.topology import topology_models
    from comparison.simulate.latency import run_consumers

    (model,) = topology_models([template], workload, assumptions)
    scenario = Scenario(workload=workload, prices=london, assumptions=assumptions)
    runs, summary = run_consumers(model, scenario)
    (worker,) = (runs[c.logical_id] for c in model.routing.consumers)
    return worker, summary


def test_real_worker_service_matches_the_hand_simulation_of_the_runtime_formula(
    real_templates, workload, london, assumptions
) -> None:
    template = without_waker(real_templates["worker-service"])
    worker, summary = _worker_runs(template, workload, london, assumptions)
    # The hand simulation with BacklogPerTask = messages / max(tasks, 1), woken
    # by the alarm alone: about 290 task-hours a month and 162 wake-ups a day.
    assert worker.unit_seconds * 730 / 24 / 3600 == pytest.approx(290, rel=0.1)
    assert worker.starts == pytest.approx(162, rel=0.1)
    # after an hour idle: the next datapoint (60 s), the alarm's lag (20 s), the start
    a = assumptions
    assert summary.worst_after_idle_seconds == pytest.approx(
        a.metric_period_seconds + a.alarm_evaluation_lag_seconds + a.fargate_start_seconds,
        abs=a.step_seconds,
    )


def test_the_waker_wakes_the_real_worker_service_in_a_nudge_and_a_start(
    real_templates, workload, london, assumptions
) -> None:
    alarm_only, before = _worker_runs(
        without_waker(real_templates["worker-service"]), workload, london, assumptions
    )
    woken, after = _worker_runs(real_templates["worker-service"], workload, london, assumptions)
    a = assumptions
    # the nudge, then the change waits for the next simulation step, then Fargate starts
    assert after.worst_after_idle_seconds == pytest.approx(
        a.wake_nudge_seconds + a.fargate_start_seconds, abs=a.step_seconds
    )
    assert after.worst_after_idle_seconds < before.worst_after_idle_seconds - 60
    # the same wake-ups, each about a minute sooner; a task up sooner serves a burst
    # longer, so the task-hours grow a little, never fall
    assert woken.starts == pytest.approx(alarm_only.starts, rel=0.1)
    assert alarm_only.unit_seconds <= woken.unit_seconds <= 1.25 * alarm_only.unit_seconds


def test_default_target_counts_the_worker_threads_as_the_construct_does(
    fixture_templates, workload, assumptions
) -> None:
    from comparison.inputs.templates import StackTemplate
    from comparison.model.topology import topology_model
    from runtime.contract.backlog import target_backlog_per_task

    # GIVEN the worker service's tracking policy without a TargetValue
    stack = fixture_templates["Fixture-WorkerService"]
    resources = dict(stack.resources)
    for logical_id, policy in resources.items():
        config = policy.properties.get("TargetTrackingScalingPolicyConfiguration")
        if config is not None:
            silent = {k: v for k, v in config.items() if k != "TargetValue"}
            properties = {**policy.properties, "TargetTrackingScalingPolicyConfiguration": silent}
            resources[logical_id] = replace(policy, properties=properties)
    silent_stack = StackTemplate(stack.stack_id, resources)
    model = topology_model(silent_stack, tuple(t.name for t in workload.tasks))
    (consumer,) = model.routing.consumers
    # WHEN the comparison reads its scaling rule
    params = fleet_scaling(consumer, workload, assumptions)
    # THEN the target is the contract's: latency / mean duration x the 2 poller threads
    loads = [workload.task(name) for name in consumer.tasks]
    mean = sum(t.volume_per_month * t.duration_seconds for t in loads) / sum(
        t.volume_per_month for t in loads
    )
    expected = target_backlog_per_task(workload.acceptable_latency_seconds, mean, WORKER_THREADS)
    assert params.target == expected > 1.0  # above the floor, so the threads show
    assert params.target == pytest.approx(
        max(1.0, workload.acceptable_latency_seconds / mean * WORKER_THREADS), abs=0.01
    )


SPIKY_WEEKLY = Path(__file__).parent / "fixtures" / "workloads" / "spiky-weekly.toml"


@pytest.fixture(scope="module")
def spiky_weekly() -> Workload:
    return load_workload(SPIKY_WEEKLY, known_regions=known_regions())


def test_a_weekly_burst_arrives_on_its_mondays_with_the_months_volume(
    spiky_weekly, assumptions
) -> None:
    # GIVEN 43,500 emails a month, all in the 09:00 minute of Mondays, over four weeks
    email = spiky_weekly.task("send-bulk-email")
    arrivals = task_arrivals(email, assumptions.seed, 28)
    # THEN every arrival is in a Monday's 09:00 minute (day 0 is a Monday)
    assert {int(a.time // DAY_SECONDS) for a in arrivals} == {0, 7, 14, 21}
    assert all(9 * 3600 <= a.time % DAY_SECONDS < 9 * 3600 + 60 for a in arrivals)
    # AND each Monday carries about 10,000, the month about 43,500
    assert len(arrivals) / 4 == pytest.approx(10_000, rel=0.02)
    assert len(arrivals) / 28 * DAYS_PER_MONTH == pytest.approx(43_500, rel=0.02)


def test_weekly_and_daily_forms_of_one_monthly_volume_wait_differently(
    spiky_weekly, assumptions
) -> None:
    # GIVEN the same 43,500 a month written weekly (10,000 a Monday) and daily (1,430 a day)
    weekly = spiky_weekly.task("send-bulk-email")
    daily = replace(weekly, calendar=EVERY_DAY)
    model = LambdaModel(max_concurrency=10)
    runs = {
        form: simulate_lambda(task_arrivals(task, assumptions.seed, 7), model, assumptions)
        for form, task in (("weekly", weekly), ("daily", daily))
    }
    # THEN both carry the month's volume over the simulated week
    for run in runs.values():
        assert len(run.waits) / 7 * DAYS_PER_MONTH == pytest.approx(43_500, rel=0.02)
    # AND the weekly burst queues about 7 times longer at the same concurrency cap
    p95 = {form: percentile(run.waits, 0.95) for form, run in runs.items()}
    assert p95["weekly"] > 5 * p95["daily"]
    assert p95["weekly"] == pytest.approx(0.95 * 10_000 * 1.0 / 10, rel=0.1)


def test_the_simulated_period_covers_whole_cycles_of_the_calendars(
    spiky_weekly, workload, assumptions
) -> None:
    one_day = replace(assumptions, max_simulated_days=1)  # what the sweep asks for
    assert simulated_days(spiky_weekly, one_day) == 7
    assert simulated_days(spiky_weekly, replace(assumptions, min_simulated_arrivals=20_000)) == 14
    assert simulated_days(workload, one_day) == 1  # every day: unchanged


def test_a_cyclic_run_keeps_one_average_day_per_cycle_for_the_spread() -> None:
    # GIVEN two weeks of a weekly task: a busy Monday, then six idle days, twice
    week = [DayCounts(unit_seconds=700.0, runs=70)] + [DayCounts()] * 6
    run = ConsumerRun(waits=(), unit_seconds=1_400.0, peak_units=1, daily=tuple(week * 2))
    # WHEN it is averaged per day over the 14 days, by weekly cycle
    averaged = run.per_day(14, cycle=7)
    # THEN the spread samples the two weeks (equal: no spread), not 14 unequal days
    assert averaged.daily == (DayCounts(unit_seconds=100.0, runs=10),) * 2
    assert averaged.unit_seconds == 100.0
