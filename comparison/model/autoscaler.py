"""Application Auto Scaling acting on a service's template policies, one datapoint at a time.

The one autoscaler of the project: the comparison's simulation and the local emulator
both step it. It lives beside :mod:`comparison.model.scaling`, which reads the policies
it steps from (:class:`ScalingParams`), because it is the model of those policies, not
of a simulated day: it holds no clock, queue or fleet of its own, and the emulator may
import ``comparison.model``.

Pure and deterministic: feed :meth:`Autoscaler.observe` one :class:`Observation` per
metric period and it returns the new desired count and why. The backlog values are the
runtime's own (:func:`runtime.contract.backlog.compute_backlog`). What AWS does:

- **Target tracking** ("How target tracking scaling for Application Auto Scaling works",
  https://docs.aws.amazon.com/autoscaling/application/userguide/target-tracking-scaling-policy-overview.html):
  Application Auto Scaling creates two alarms the template does not show. The high one
  goes to ALARM on 3 of 3 one-minute datapoints above the target, the low one on 15 of
  15 below 90 % of it. Each asks for ceil(capacity x metric / target) tasks.
  ``ScaleOutCooldown`` spaces scale-outs and ``ScaleInCooldown`` scale-ins; a scale-out
  is not held back by the scale-in cooldown.
- **Step scaling** ("Step scaling policies for Application Auto Scaling",
  https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-step-scaling-policies.html):
  each policy's alarm has its own ``Period``, ``DatapointsToAlarm`` (of
  ``EvaluationPeriods``), ``Threshold`` and ``ComparisonOperator``; in ALARM it applies
  the step (``ExactCapacity`` or ``ChangeInCapacity``) once its ``Cooldown`` has passed.
- **Alarms act again while in ALARM** ("Using Amazon CloudWatch alarms", alarm actions,
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-actions.html):
  other actions fire on a state change only, Auto Scaling actions every period the
  alarm stays in ALARM. So once in ALARM, each further step waits for the cooldown,
  not for another run of datapoints.
- The desired count stays within ``MinCapacity``..``MaxCapacity``. A scale-out step
  never lowers the count (an ExactCapacity wake-up reads as "at least N"), a scale-in
  step never raises it, and scale-out wins.

- **The waker** (``runtime.waker``, :meth:`Autoscaler.nudge`): it sets ECS's desired
  count to 1 when it is 0 with no task running or starting, through UpdateService, at
  any moment between datapoints; Application Auto Scaling then scales from that count.

Not modelled (an offline simplification, not checked against AWS): target tracking's
"a larger scale-out may happen within the scale-out cooldown" (the cooldown simply
holds every scale-out), and alarms with missing data (every period has a datapoint:
the metric Lambda always publishes, zeros included).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final, NamedTuple

from comparison.model.scaling import ScalingMetric, ScalingParams, StepMetric, StepRule
from runtime.contract.backlog import BACKLOG_PER_TASK, WAKE_UP_SIGNAL, compute_backlog, needs_wake

# Target tracking's AWS-managed alarms (the page named in the module docstring); the
# template cannot change them.
TARGET_TRACKING_OUT_DATAPOINTS: Final = 3
TARGET_TRACKING_IN_DATAPOINTS: Final = 15
TARGET_TRACKING_IN_RATIO: Final = 0.9

_TRACKED_NAMES: Final[Mapping[ScalingMetric, str]] = {
    ScalingMetric.BACKLOG: BACKLOG_PER_TASK,
    ScalingMetric.CPU: "ECSServiceAverageCPUUtilization",
}


_STEP_NAMES: Final[Mapping[StepMetric, str]] = {
    StepMetric.BACKLOG: BACKLOG_PER_TASK,
    StepMetric.VISIBLE: "ApproximateNumberOfMessagesVisible",
    StepMetric.WAKE_UP: WAKE_UP_SIGNAL,
    StepMetric.TOTAL: "messages",
}


class Observation(NamedTuple):
    """One metric period's datapoint: the queue's counts, the service's tasks, and (for
    a policy tracking CPU) its average CPU utilisation in percent."""

    visible: int
    in_flight: int
    running: int
    pending: int
    cpu_percent: float = 0.0


class Decision(NamedTuple):
    desired: int
    reason: str
    """Which alarm and policy changed the count; empty when it is unchanged."""


class Autoscaler:
    """The desired count of one service, stepped one datapoint at a time."""

    def __init__(self, params: ScalingParams, desired: int | None = None) -> None:
        self.params = params
        self.desired = params.starting_count if desired is None else desired
        self._high = 0  # consecutive datapoints above the target
        self._low = 0  # consecutive datapoints below 90 % of it
        self._streaks = [0] * len(params.step_rules)
        self._fired = [-math.inf] * len(params.step_rules)
        self._last_out = -math.inf
        self._last_in = -math.inf

    def readings(self, seen: Observation) -> tuple[float, dict[StepMetric, float]]:
        """(tracked metric value, each step alarm's metric value) for one datapoint."""
        sample = compute_backlog(
            seen.visible, seen.in_flight, seen.running, seen.pending, desired=self.desired
        )
        tracked = (
            seen.cpu_percent if self.params.metric is ScalingMetric.CPU else sample.backlog_per_task
        )
        return tracked, {
            StepMetric.BACKLOG: sample.backlog_per_task,
            StepMetric.VISIBLE: float(seen.visible),
            StepMetric.TOTAL: float(sample.messages),
            StepMetric.WAKE_UP: float(sample.wake_up),
        }

    def _count_tracking(self, value: float, periods: int) -> None:
        p = self.params
        if p.metric is ScalingMetric.NONE:
            return
        self._high = self._high + periods if value > p.target else 0
        self._low = self._low + periods if value < TARGET_TRACKING_IN_RATIO * p.target else 0

    def idle_for(self, periods: int, seen: Observation) -> None:
        """Advance every alarm over ``periods`` identical datapoints without acting (the
        caller knows nothing can scale: the service idles at its floor)."""
        if not periods:
            return
        value, readings = self.readings(seen)
        self._count_tracking(value, periods)
        for index, rule in enumerate(self.params.step_rules):
            breached = rule.breached(readings[rule.metric])
            self._streaks[index] = self._streaks[index] + periods if breached else 0

    def _wanted(self, value: float, seen: Observation) -> int:
        """Target tracking's proportional answer: capacity x metric / target. The backlog
        metric divides by max(tasks, 1), so the same divisor turns it back into messages;
        starting tasks report no CPU."""
        p = self.params
        if not p.target:
            return self.desired
        if p.metric is ScalingMetric.CPU:
            return math.ceil(seen.running * value / p.target)
        return math.ceil(max(seen.running + seen.pending, 1) * value / p.target)

    def _clamp(self, count: int) -> int:
        return max(self.params.min_capacity, min(self.params.max_capacity, count))

    def observe(self, now: float, seen: Observation) -> Decision:
        """The desired count after the datapoint taken at ``now`` (seconds)."""
        p = self.params
        value, readings = self.readings(seen)
        outs: list[tuple[int, str]] = []
        ins: list[tuple[int, str]] = []
        if p.metric is not ScalingMetric.NONE:
            self._count_tracking(value, 1)
            if (
                self._high >= TARGET_TRACKING_OUT_DATAPOINTS
                and now - self._last_out >= p.scale_out_cooldown_seconds
            ):
                outs.append((self._clamp(self._wanted(value, seen)), "high"))
            if (
                self._low >= TARGET_TRACKING_IN_DATAPOINTS
                and now - self._last_in >= p.scale_in_cooldown_seconds
            ):
                ins.append((self._clamp(self._wanted(value, seen)), "low"))
        for index, rule in enumerate(p.step_rules):
            if now % rule.period_seconds:
                continue  # no datapoint of this alarm's period ends now
            breached = rule.breached(readings[rule.metric])
            self._streaks[index] = self._streaks[index] + 1 if breached else 0
            cooled = now - self._fired[index] >= rule.cooldown_seconds
            if self._streaks[index] >= rule.datapoints_to_alarm and cooled:
                self._fired[index] = now
                wanted = (self._clamp(rule.apply(self.desired)), f"step{index}")
                (outs if rule.scales_out else ins).append(wanted)
        before = self.desired
        if any(count > before for count, _ in outs):
            self.desired, why = max(outs)
            self._last_out = now
        elif ins and max(ins)[0] < before:
            self.desired, why = max(ins)
            self._last_in = now
        else:
            return Decision(before, "")
        return Decision(self.desired, self._explain(why, value, readings))

    def follow(self, desired: int) -> None:
        """ECS's desired count changed outside Application Auto Scaling (the waker, a
        deploy): the next decision starts from it, as Auto Scaling reads the service's
        current count."""
        self.desired = desired

    def nudge(self, running: int, pending: int) -> Decision:
        """The waker, nudged as work is enqueued (``runtime.waker``): exactly 1 when the
        service is asleep (:func:`~runtime.contract.backlog.needs_wake`, the waker's own
        rule), nothing otherwise. ECS's count is the one Application Auto Scaling acts
        from next, so the model's count follows it."""
        if not self.params.wakes_on_enqueue or not needs_wake(
            desired=self.desired, running=running, pending=pending
        ):
            return Decision(self.desired, "")
        self.follow(1)
        return Decision(self.desired, "waker (nudged on enqueue): exactly 1")

    def _explain(self, why: str, value: float, readings: Mapping[StepMetric, float]) -> str:
        p = self.params
        if why in ("high", "low"):
            name = _TRACKED_NAMES.get(p.metric, p.metric.value)
            if why == "high":
                alarm = f"above {p.target:g} for {TARGET_TRACKING_OUT_DATAPOINTS} datapoints"
            else:
                below = TARGET_TRACKING_IN_RATIO * p.target
                alarm = f"below {below:g} for {TARGET_TRACKING_IN_DATAPOINTS} datapoints"
            direction = "out" if why == "high" else "in"
            return f"target tracking scale-{direction} ({name}={value:.2f}, {alarm})"
        rule = p.step_rules[int(why.removeprefix("step"))]
        return _describe(rule, readings[rule.metric])


def _describe(rule: StepRule, value: float) -> str:
    name = "wake-up alarm" if rule.metric is StepMetric.WAKE_UP else "step-scaling alarm"
    step = f"exactly {rule.adjustment}" if rule.exact else f"{rule.adjustment:+d}"
    return (
        f"{name} ({_STEP_NAMES[rule.metric]}={value:g}, {rule.operator} {rule.threshold:g} "
        f"for {rule.datapoints_to_alarm} of {rule.period_seconds:g} s datapoints): {step}"
    )
