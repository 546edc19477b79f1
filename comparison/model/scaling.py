"""Scaling parameters of an ECS service, read from Application Auto Scaling resources.

:func:`scaling_reading` reads what the template states, once, into a
:class:`ScalingReading`; :func:`scaling_params` fills what it lacks from
:class:`~comparison.inputs.assumptions.Assumptions` and the workload's default target,
and :attr:`ScalingParams.from_template` says which fields were found.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import TYPE_CHECKING

from comparison.inputs.assumptions import Assumptions
from comparison.inputs.templates import Resource, StackTemplate, ref_target, referenced_ids
from runtime.contract import METRIC_SERVICE_ENV, ResourceRole

if TYPE_CHECKING:
    from comparison.model.resources import ServiceModel

_CPU_METRICS = {"ECSServiceAverageCPUUtilization"}


class ScalingMetric(StrEnum):
    NONE = "none"  # a fixed desired count
    BACKLOG = "backlog-per-task"  # a custom metric: (visible + in flight) / running
    CPU = "cpu"  # a predefined utilisation metric


class StepMetric(StrEnum):
    BACKLOG = "backlog-per-task"  # the custom metric the metric Lambda publishes
    VISIBLE = "visible"  # SQS ApproximateNumberOfMessagesVisible
    WAKE_UP = "wake-up"  # WakeUpSignal: messages waiting while no task runs or starts
    TOTAL = "total"  # anything else: read as messages visible plus in flight


@dataclass(frozen=True, kw_only=True)
class StepReading:
    """A step-scaling policy and the alarm that triggers it, as the template states them:
    the alarm's Period may be absent (None)."""

    period_seconds: float | None
    datapoints_to_alarm: int
    threshold: float
    operator: str
    """The alarm's ComparisonOperator."""
    metric: StepMetric
    exact: bool
    """ExactCapacity (True) or ChangeInCapacity (False)."""
    adjustment: int
    cooldown_seconds: float = 0.0

    def breached(self, value: float) -> bool:
        comparisons = {
            "GreaterThanOrEqualToThreshold": value >= self.threshold,
            "GreaterThanThreshold": value > self.threshold,
            "LessThanOrEqualToThreshold": value <= self.threshold,
            "LessThanThreshold": value < self.threshold,
        }
        return comparisons.get(self.operator, False)

    def apply(self, desired: int) -> int:
        return self.adjustment if self.exact else desired + self.adjustment

    @property
    def scales_out(self) -> bool:
        return self.adjustment > 0


@dataclass(frozen=True, kw_only=True)
class StepRule(StepReading):
    """A step-scaling policy and the alarm that triggers it, e.g. the wake-up from zero,
    with the period resolved (the field keeps its place, so reports list it first)."""

    period_seconds: float


@dataclass(frozen=True, kw_only=True)
class TargetTracking:
    """A target-tracking policy as the template states it (None: property absent)."""

    metric: ScalingMetric
    target: float | None
    scale_in_cooldown_seconds: float | None
    scale_out_cooldown_seconds: float | None


@dataclass(frozen=True, kw_only=True)
class ScalingReading:
    """The Application Auto Scaling target of a service and its policies, as stated."""

    min_capacity: int
    max_capacity: int | None
    tracking: tuple[TargetTracking, ...]
    steps: tuple[StepReading, ...]
    waker: str | None = None
    """Logical id of the waker function (``runtime.waker``) that sets this service's
    count from 0 to 1 when work is enqueued; None without one."""


@dataclass(frozen=True, kw_only=True)
class ScalingParams:
    min_capacity: int
    max_capacity: int
    desired_count: int
    metric: ScalingMetric
    target: float
    scale_in_cooldown_seconds: float
    scale_out_cooldown_seconds: float
    metric_period_seconds: float
    step_rules: tuple[StepRule, ...]
    from_template: tuple[str, ...]
    """Names of the fields read from the template; the rest are documented defaults."""
    wakes_on_enqueue: bool = False
    """A waker sets the count from 0 to 1 as work is enqueued (``runtime.waker``)."""

    @property
    def starting_count(self) -> int:
        """The desired count before any datapoint: MinCapacity for a service that scales
        (registering the scalable target raises the count to it), else DesiredCount."""
        return self.desired_count if self.metric is ScalingMetric.NONE else self.min_capacity

    @property
    def wake_up(self) -> StepRule | None:
        return next((rule for rule in self.step_rules if rule.scales_out), None)


def number(value: object, default: float) -> float:
    """A numeric property, or ``default`` when it is absent or an unresolved token."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def _scalable_target(template: StackTemplate, service: Resource) -> Resource | None:
    return next(
        (
            t
            for t in template.of_type("AWS::ApplicationAutoScaling::ScalableTarget")
            if service.logical_id in referenced_ids(t.properties.get("ResourceId"))
        ),
        None,
    )


def _policies(template: StackTemplate, target: Resource) -> list[Resource]:
    return [
        p
        for p in template.of_type("AWS::ApplicationAutoScaling::ScalingPolicy")
        if target.logical_id in referenced_ids(p.properties.get("ScalingTargetId"))
    ]


def _optional(value: object) -> float | None:
    found = number(value, float("nan"))
    return None if found != found else found  # NaN: absent or a token


def _tracking(config: dict[str, object]) -> tuple[TargetTracking, str | None]:
    """The policy, and the name of its customized metric if it has one."""
    predefined = config.get("PredefinedMetricSpecification", {})
    is_cpu = isinstance(predefined, dict) and (
        predefined.get("PredefinedMetricType") in _CPU_METRICS
    )
    custom = config.get("CustomizedMetricSpecification", {})
    name = custom.get("MetricName") if isinstance(custom, dict) else None
    return TargetTracking(
        metric=ScalingMetric.CPU if is_cpu else ScalingMetric.BACKLOG,
        target=_optional(config.get("TargetValue")),
        scale_in_cooldown_seconds=_optional(config.get("ScaleInCooldown")),
        scale_out_cooldown_seconds=_optional(config.get("ScaleOutCooldown")),
    ), name if isinstance(name, str) else None


def scaling_reading(template: StackTemplate, service: Resource) -> ScalingReading | None:
    """What the template says about how ``service`` scales; None without a scalable target."""
    target = _scalable_target(template, service)
    if target is None:
        return None
    policies = _policies(template, target)
    tracking: list[TargetTracking] = []
    custom_names: set[str] = set()
    for policy in policies:
        config = policy.properties.get("TargetTrackingScalingPolicyConfiguration")
        if isinstance(config, dict):
            policy_tracking, custom = _tracking(config)
            tracking.append(policy_tracking)
            if custom is not None:
                custom_names.add(custom)
    steps: list[StepReading] = []
    for policy in policies:
        if isinstance(policy.properties.get("StepScalingPolicyConfiguration"), dict):
            steps.extend(_step_readings(template, policy, custom_names))
    maximum = target.properties.get("MaxCapacity")
    return ScalingReading(
        min_capacity=int(number(target.properties.get("MinCapacity"), 0)),
        max_capacity=None if _optional(maximum) is None else int(number(maximum, 0)),
        tracking=tuple(tracking),
        steps=tuple(steps),
        waker=_waker_of(template, service),
    )


def _waker_of(template: StackTemplate, service: Resource) -> str | None:
    """The waker function whose ``SERVICE_NAME`` is this service's name, if any."""
    for function in template.with_role(ResourceRole.WAKER):
        variables = function.properties.get("Environment", {}).get("Variables", {})
        if service.logical_id in referenced_ids(variables.get(METRIC_SERVICE_ENV)):
            return function.logical_id
    return None


def _step_metric(alarm: Resource, custom_names: set[str]) -> StepMetric:
    name = alarm.properties.get("MetricName")
    if name in custom_names or name == "BacklogPerTask":
        return StepMetric.BACKLOG
    if name == "WakeUpSignal":
        return StepMetric.WAKE_UP
    if name == "ApproximateNumberOfMessagesVisible":
        return StepMetric.VISIBLE
    return StepMetric.TOTAL


def _step_readings(
    template: StackTemplate, policy: Resource, custom_names: set[str]
) -> list[StepReading]:
    config = policy.properties["StepScalingPolicyConfiguration"]
    adjustments = config.get("StepAdjustments") or [{}]
    # One adjustment per policy is what the wake-up and scale-to-zero steps use; a
    # multi-step policy is read by its largest step.
    adjustment = int(max((number(a.get("ScalingAdjustment"), 0) for a in adjustments), key=abs))
    exact = config.get("AdjustmentType") == "ExactCapacity"
    rules = []
    for alarm in template.of_type("AWS::CloudWatch::Alarm"):
        actions = alarm.properties.get("AlarmActions", [])
        if not any(ref_target(action) == policy.logical_id for action in actions):
            continue
        props = alarm.properties
        evaluation = int(number(props.get("EvaluationPeriods"), 1))
        rules.append(
            StepReading(
                period_seconds=_optional(props.get("Period")),
                datapoints_to_alarm=int(number(props.get("DatapointsToAlarm"), evaluation)),
                threshold=number(props.get("Threshold"), 0),
                operator=str(props.get("ComparisonOperator", "")),
                metric=_step_metric(alarm, custom_names),
                exact=exact,
                adjustment=adjustment,
                cooldown_seconds=number(config.get("Cooldown"), 0),
            )
        )
    return rules


def _rule(reading: StepReading, assumptions: Assumptions) -> StepRule:
    stated = {f.name: getattr(reading, f.name) for f in fields(StepReading)}
    if reading.period_seconds is None:
        stated["period_seconds"] = assumptions.metric_period_seconds
    return StepRule(**stated)


def scaling_params(
    service: ServiceModel, assumptions: Assumptions, *, default_target: float
) -> ScalingParams:
    """The scaling rule of ``service``: its capacity range, target tracking and wake-up."""
    desired = 1 if service.desired_count is None else service.desired_count
    reading = service.scaling
    if reading is None:
        return ScalingParams(
            min_capacity=desired,
            max_capacity=desired,
            desired_count=desired,
            metric=ScalingMetric.NONE,
            target=0.0,
            scale_in_cooldown_seconds=0.0,
            scale_out_cooldown_seconds=0.0,
            metric_period_seconds=assumptions.metric_period_seconds,
            step_rules=(),
            from_template=("DesiredCount",),
        )
    found = ["MinCapacity", "MaxCapacity"]
    metric, target = ScalingMetric.NONE, default_target
    cooldown_in = cooldown_out = assumptions.default_cooldown_seconds
    for tracking in reading.tracking:
        metric = tracking.metric
        target = default_target if tracking.target is None else tracking.target
        if tracking.scale_in_cooldown_seconds is not None:
            cooldown_in = tracking.scale_in_cooldown_seconds
        if tracking.scale_out_cooldown_seconds is not None:
            cooldown_out = tracking.scale_out_cooldown_seconds
        found += ["TargetValue", "ScaleInCooldown", "ScaleOutCooldown"]
    rules = [_rule(step, assumptions) for step in reading.steps]
    period = assumptions.metric_period_seconds
    for rule in rules:
        found.append(f"StepScaling({rule.operator} {rule.threshold:g})")
        if rule.scales_out:
            period = rule.period_seconds
    maximum = reading.max_capacity
    return ScalingParams(
        min_capacity=reading.min_capacity,
        max_capacity=assumptions.default_max_capacity if maximum is None else maximum,
        desired_count=max(desired, reading.min_capacity),
        metric=metric,
        target=target if target > 0 else default_target,
        scale_in_cooldown_seconds=cooldown_in,
        scale_out_cooldown_seconds=cooldown_out,
        metric_period_seconds=period,
        step_rules=tuple(rules),
        from_template=tuple(found + (["Waker"] if reading.waker else [])),
        wakes_on_enqueue=reading.waker is not None,
    )
