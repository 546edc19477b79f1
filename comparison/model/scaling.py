"""Scaling parameters of an ECS service, read from Application Auto Scaling resources.

What the template lacks comes from :class:`~comparison.inputs.assumptions.Assumptions`, and
:attr:`ScalingParams.from_template` says which fields were found.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from comparison.inputs.assumptions import Assumptions
from comparison.inputs.templates import Resource, StackTemplate, ref_target, referenced_ids

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
class StepRule:
    """A step-scaling policy and the alarm that triggers it, e.g. the wake-up from zero."""

    period_seconds: float
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

    @property
    def starting_count(self) -> int:
        """The desired count before any datapoint: MinCapacity for a service that scales
        (registering the scalable target raises the count to it), else DesiredCount."""
        return self.desired_count if self.metric is ScalingMetric.NONE else self.min_capacity

    @property
    def wake_up(self) -> StepRule | None:
        return next((rule for rule in self.step_rules if rule.scales_out), None)


def _number(value: object, default: float) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default  # an unresolved token: use the default


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


def scaling_params(
    template: StackTemplate,
    service: Resource,
    assumptions: Assumptions,
    *,
    default_target: float,
) -> ScalingParams:
    """The scaling rule of ``service``: its capacity range, target tracking and wake-up."""
    found: list[str] = []
    desired = int(_number(service.properties.get("DesiredCount"), 1))
    target_resource = _scalable_target(template, service)
    if target_resource is None:
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
    found += ["MinCapacity", "MaxCapacity"]
    minimum = int(_number(target_resource.properties.get("MinCapacity"), 0))
    maximum = int(
        _number(target_resource.properties.get("MaxCapacity"), assumptions.default_max_capacity)
    )
    metric, target = ScalingMetric.NONE, default_target
    cooldown_in = cooldown_out = assumptions.default_cooldown_seconds
    rules: list[StepRule] = []
    period = assumptions.metric_period_seconds
    custom_names: set[str] = set()
    for policy in _policies(template, target_resource):
        tracking = policy.properties.get("TargetTrackingScalingPolicyConfiguration")
        if isinstance(tracking, dict):
            predefined = tracking.get("PredefinedMetricSpecification", {})
            is_cpu = predefined.get("PredefinedMetricType") in _CPU_METRICS
            metric = ScalingMetric.CPU if is_cpu else ScalingMetric.BACKLOG
            target = _number(tracking.get("TargetValue"), default_target)
            cooldown_in = _number(tracking.get("ScaleInCooldown"), cooldown_in)
            cooldown_out = _number(tracking.get("ScaleOutCooldown"), cooldown_out)
            found += ["TargetValue", "ScaleInCooldown", "ScaleOutCooldown"]
            custom = tracking.get("CustomizedMetricSpecification", {})
            if isinstance(custom, dict) and isinstance(custom.get("MetricName"), str):
                custom_names.add(custom["MetricName"])
    for policy in _policies(template, target_resource):
        if isinstance(policy.properties.get("StepScalingPolicyConfiguration"), dict):
            rules.extend(_step_rules(template, policy, assumptions, custom_names))
    for rule in rules:
        found.append(f"StepScaling({rule.operator} {rule.threshold:g})")
        if rule.scales_out:
            period = rule.period_seconds
    return ScalingParams(
        min_capacity=minimum,
        max_capacity=maximum,
        desired_count=max(desired, minimum),
        metric=metric,
        target=target if target > 0 else default_target,
        scale_in_cooldown_seconds=cooldown_in,
        scale_out_cooldown_seconds=cooldown_out,
        metric_period_seconds=period,
        step_rules=tuple(rules),
        from_template=tuple(found),
    )


def _step_metric(alarm: Resource, custom_names: set[str]) -> StepMetric:
    name = alarm.properties.get("MetricName")
    if name in custom_names or name == "BacklogPerTask":
        return StepMetric.BACKLOG
    if name == "WakeUpSignal":
        return StepMetric.WAKE_UP
    if name == "ApproximateNumberOfMessagesVisible":
        return StepMetric.VISIBLE
    return StepMetric.TOTAL


def _step_rules(
    template: StackTemplate, policy: Resource, assumptions: Assumptions, custom_names: set[str]
) -> list[StepRule]:
    config = policy.properties["StepScalingPolicyConfiguration"]
    adjustments = config.get("StepAdjustments") or [{}]
    # One adjustment per policy is what the wake-up and scale-to-zero steps use; a
    # multi-step policy is read by its largest step.
    adjustment = int(max((_number(a.get("ScalingAdjustment"), 0) for a in adjustments), key=abs))
    exact = config.get("AdjustmentType") == "ExactCapacity"
    rules = []
    for alarm in template.of_type("AWS::CloudWatch::Alarm"):
        actions = alarm.properties.get("AlarmActions", [])
        if not any(ref_target(action) == policy.logical_id for action in actions):
            continue
        props = alarm.properties
        evaluation = int(_number(props.get("EvaluationPeriods"), 1))
        rules.append(
            StepRule(
                period_seconds=_number(props.get("Period"), assumptions.metric_period_seconds),
                datapoints_to_alarm=int(_number(props.get("DatapointsToAlarm"), evaluation)),
                threshold=_number(props.get("Threshold"), 0),
                operator=str(props.get("ComparisonOperator", "")),
                metric=_step_metric(alarm, custom_names),
                exact=exact,
                adjustment=adjustment,
                cooldown_seconds=_number(config.get("Cooldown"), 0),
            )
        )
    return rules


def fargate_size(template: StackTemplate, service: Resource) -> tuple[float, float, str]:
    """(vCPU, GB, architecture) of its task definition; 0.25 vCPU, 0.5 GB, x86 if absent."""
    definition = template.get(ref_target(service.properties.get("TaskDefinition")))
    props = definition.properties if definition is not None else {}
    vcpu = _number(props.get("Cpu"), 256) / 1024
    memory_gb = _number(props.get("Memory"), 512) / 1024
    platform = props.get("RuntimePlatform", {})
    architecture = "arm64" if platform.get("CpuArchitecture") == "ARM64" else "x86_64"
    return vcpu, memory_gb, architecture
