"""The one autoscaler model against AWS's documented alarms.

- Target tracking: "How target tracking scaling for Application Auto Scaling works",
  https://docs.aws.amazon.com/autoscaling/application/userguide/target-tracking-scaling-policy-overview.html
  (high alarm: 3 of 3 one-minute datapoints above the target; low alarm: 15 of 15 below
  90 % of it; cooldowns: a scale-out is not held back by the scale-in cooldown).
- Step scaling: "Step scaling policies for Application Auto Scaling",
  https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-step-scaling-policies.html
- Auto Scaling actions repeat every period while the alarm stays in ALARM: "Using Amazon
  CloudWatch alarms", https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-actions.html
"""

from __future__ import annotations

from dataclasses import replace

from comparison.model.autoscaler import (
    TARGET_TRACKING_IN_DATAPOINTS,
    TARGET_TRACKING_OUT_DATAPOINTS,
    Autoscaler,
    Observation,
)
from comparison.model.scaling import ScalingMetric, ScalingParams, StepMetric, StepRule

MINUTE = 60.0
TRACKING = ScalingParams(
    min_capacity=0,
    max_capacity=10,
    desired_count=0,
    metric=ScalingMetric.BACKLOG,
    target=10.0,
    scale_in_cooldown_seconds=0.0,
    scale_out_cooldown_seconds=0.0,
    metric_period_seconds=MINUTE,
    step_rules=(),
    from_template=(),
)
STEPS_ONLY = replace(TRACKING, metric=ScalingMetric.NONE, target=0.0, desired_count=1)


def _per_task(backlog_per_task: float, tasks: int) -> Observation:
    """A datapoint of ``tasks`` running tasks sharing ``backlog_per_task`` messages each."""
    return Observation(round(backlog_per_task * tasks), 0, tasks, 0)


def _feed(scaler: Autoscaler, seen: list[Observation], start_minute: int = 1) -> list[int]:
    """The desired count after each datapoint, one a minute."""
    return [
        scaler.observe((start_minute + i) * MINUTE, datapoint).desired
        for i, datapoint in enumerate(seen)
    ]


def test_scale_out_needs_three_consecutive_datapoints_above_the_target() -> None:
    scaler = Autoscaler(TRACKING, desired=1)
    desired = _feed(scaler, [_per_task(30, 1)] * TARGET_TRACKING_OUT_DATAPOINTS)
    # THEN nothing for two datapoints; on the third, ceil(1 x 30 / 10) = 3 tasks
    assert TARGET_TRACKING_OUT_DATAPOINTS == 3
    assert desired == [1, 1, 3]


def test_one_datapoint_at_the_target_resets_the_high_alarm() -> None:
    scaler = Autoscaler(TRACKING, desired=1)
    above, at = _per_task(30, 1), _per_task(10, 1)  # "above" is strictly above
    desired = _feed(scaler, [above, above, at, above, above, above])
    assert desired == [1, 1, 1, 1, 1, 3]


def test_scale_in_needs_fifteen_datapoints_below_ninety_percent_of_the_target() -> None:
    scaler = Autoscaler(TRACKING, desired=4)
    # 2 messages per task: well below 90 % of 10; ceil(4 x 2 / 10) = 1 task wanted
    desired = _feed(scaler, [_per_task(2, 4)] * TARGET_TRACKING_IN_DATAPOINTS)
    assert TARGET_TRACKING_IN_DATAPOINTS == 15
    assert desired == [4] * 14 + [1]


def test_a_backlog_at_ninety_percent_of_the_target_never_scales_in() -> None:
    scaler = Autoscaler(replace(TRACKING, max_capacity=30), desired=20)
    # 9 per task is 90 % of 10, not below it; 9.5 is between it and the target. Either
    # would ask for fewer tasks (ceil(20 x 9 / 10) = 18) if the low alarm fired.
    desired = _feed(scaler, [_per_task(9, 20)] * 20 + [_per_task(9.5, 20)] * 20)
    assert set(desired) == {20}


def test_scale_in_repeats_after_its_cooldown_while_the_low_alarm_stays_in_alarm() -> None:
    params = replace(TRACKING, scale_in_cooldown_seconds=5 * MINUTE)
    scaler = Autoscaler(params, desired=8)
    # GIVEN 15 datapoints of 2 per task: the low alarm goes to ALARM, 8 -> 2 tasks
    assert _feed(scaler, [_per_task(2, 8)] * 15)[-1] == 2
    # WHEN the queue then empties (the alarm stays in ALARM)
    desired = _feed(scaler, [Observation(0, 0, 2, 0)] * 6, start_minute=16)
    # THEN the next scale-in waits for the 5-minute cooldown, not for 15 new datapoints
    assert desired == [2, 2, 2, 2, 0, 0]


def test_scale_out_waits_for_its_cooldown_between_scale_outs() -> None:
    params = replace(TRACKING, scale_out_cooldown_seconds=2 * MINUTE)
    scaler = Autoscaler(params, desired=1)
    desired = _feed(scaler, [_per_task(30, 1)] * 3 + [_per_task(30, 3)] * 3)
    # 1 -> 3 at minute 3; the alarm stays in ALARM, 3 -> 9 once 2 minutes have passed
    assert desired == [1, 1, 3, 3, 9, 9]


def test_a_scale_out_is_not_held_back_by_the_scale_in_cooldown() -> None:
    params = replace(TRACKING, scale_in_cooldown_seconds=30 * MINUTE)
    scaler = Autoscaler(params, desired=4)
    assert _feed(scaler, [_per_task(2, 4)] * 15)[-1] == 1
    desired = _feed(scaler, [_per_task(30, 1)] * 3, start_minute=16)
    assert desired == [1, 1, 3]


def test_target_tracking_stays_within_min_and_max_capacity() -> None:
    params = replace(TRACKING, min_capacity=2, max_capacity=5)
    scaler = Autoscaler(params, desired=2)
    assert _feed(scaler, [_per_task(100, 2)] * 3)[-1] == 5  # wanted 20
    assert _feed(scaler, [Observation(0, 0, 5, 0)] * 15, start_minute=4)[-1] == 2  # wanted 0


def _step(**fields: object) -> StepRule:
    rule = StepRule(
        period_seconds=MINUTE,
        datapoints_to_alarm=2,
        threshold=5,
        operator="GreaterThanOrEqualToThreshold",
        metric=StepMetric.VISIBLE,
        exact=False,
        adjustment=2,
    )
    return replace(rule, **fields)  # type: ignore[arg-type]


def test_step_alarm_needs_its_datapoints_then_steps_every_period_it_stays_in_alarm() -> None:
    scaler = Autoscaler(replace(STEPS_ONLY, step_rules=(_step(),)))
    seen = [Observation(5, 0, 1, 0), Observation(4, 0, 1, 0)] + [Observation(5, 0, 1, 0)] * 4
    # 5 >= 5 once, then 4 resets it; then 2 datapoints to ALARM and +2 each minute after
    assert _feed(scaler, seen) == [1, 1, 1, 3, 5, 7]


def test_step_alarm_follows_its_cooldown_and_its_own_period() -> None:
    rule = _step(period_seconds=5 * MINUTE, datapoints_to_alarm=1, cooldown_seconds=0)
    scaler = Autoscaler(replace(STEPS_ONLY, step_rules=(rule,)))
    desired = _feed(scaler, [Observation(9, 0, 1, 0)] * 10)
    # only the datapoints at minutes 5 and 10 belong to a 5-minute alarm
    assert desired == [1] * 4 + [3] * 5 + [5]
    cooled = Autoscaler(replace(STEPS_ONLY, step_rules=(_step(cooldown_seconds=3 * MINUTE),)))
    assert _feed(cooled, [Observation(9, 0, 1, 0)] * 6) == [1, 3, 3, 3, 5, 5]


def test_exact_capacity_step_sets_the_count_within_min_and_max() -> None:
    wake = _step(exact=True, adjustment=20, datapoints_to_alarm=1)
    scaler = Autoscaler(replace(STEPS_ONLY, max_capacity=6, step_rules=(wake,)))
    assert _feed(scaler, [Observation(9, 0, 1, 0)]) == [6]
    # a scale-in step to exactly 0 stops at MinCapacity
    to_zero = _step(
        exact=True, adjustment=0, operator="LessThanThreshold", threshold=1, datapoints_to_alarm=1
    )
    idle = Autoscaler(replace(STEPS_ONLY, min_capacity=1, desired_count=3, step_rules=(to_zero,)))
    assert _feed(idle, [Observation(0, 0, 3, 0)]) == [1]


def test_wake_up_step_adds_one_task_and_does_not_ratchet_while_it_starts() -> None:
    wake = _step(
        metric=StepMetric.WAKE_UP, operator="GreaterThanThreshold", threshold=0, adjustment=1
    )
    wake = replace(wake, datapoints_to_alarm=1, cooldown_seconds=MINUTE)
    scaler = Autoscaler(replace(TRACKING, step_rules=(wake,)))
    assert scaler.desired == 0  # MinCapacity: the scalable target's floor
    first = scaler.observe(MINUTE, Observation(1, 0, 0, 0))
    assert first.desired == 1
    assert first.reason.startswith("wake-up alarm (WakeUpSignal=1, GreaterThanThreshold 0")
    # the task is pending: WakeUpSignal is 0 (the runtime's formula), so no second task
    assert _feed(scaler, [Observation(1, 0, 0, 1)] * 3, start_minute=2) == [1, 1, 1]


def test_a_change_says_which_alarm_made_it_and_no_change_says_nothing() -> None:
    scaler = Autoscaler(TRACKING, desired=1)
    quiet = [scaler.observe(m * MINUTE, _per_task(30, 1)) for m in (1, 2)]
    assert [d.reason for d in quiet] == ["", ""]
    out = scaler.observe(3 * MINUTE, _per_task(30, 1))
    assert (
        out.reason == "target tracking scale-out (BacklogPerTask=30.00, above 10 for 3 datapoints)"
    )


def test_cpu_tracking_reads_the_cpu_and_counts_only_running_tasks() -> None:
    params = replace(TRACKING, metric=ScalingMetric.CPU, target=70.0, min_capacity=1)
    scaler = Autoscaler(params, desired=2)
    busy = Observation(0, 0, 2, 3, cpu_percent=140.0)
    # ceil(2 running x 140 / 70) = 4, whatever the pending tasks
    assert _feed(scaler, [busy] * 3) == [2, 2, 4]
