"""The worker service's scaling, run locally: the metric's own formula decides, the
template's policies act, one decision per simulated minute.

Every simulated minute (``minute_seconds`` of real time) the queue's visible and
in-flight counts and the local service's processes (local-deploy's workers stand for
the ECS service's tasks; moto's service runs none) go through
:func:`runtime.contract.backlog.compute_backlog`, the formula the metric Lambda
publishes with. The decision then
follows the template, read from it, not restated here:

- the wake-up alarm (``WakeUpSignal`` compared with its threshold) triggers the step
  policy's adjustment, within its cooldown;
- target tracking on ``BacklogPerTask`` with the policy's ``TargetValue``: scale out
  to ceil(capacity x metric / target) at once (after ``ScaleOutCooldown``), scale in
  only after ``ScaleInCooldown`` and 15 consecutive minutes below the target (the
  alarm target tracking creates for scale-in);
- the scalable target's ``MinCapacity``..``MaxCapacity``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from runtime.contract import METRIC_CLUSTER_ENV, METRIC_QUEUE_URL_ENV, METRIC_SERVICE_ENV
from runtime.contract.backlog import (
    BACKLOG_PER_TASK,
    IN_FLIGHT_ATTRIBUTE,
    VISIBLE_ATTRIBUTE,
    WAKE_UP_SIGNAL,
    compute_backlog,
)

# Target tracking's scale-in alarm: 15 datapoints of one minute below the target.
SCALE_IN_MINUTES = 15
_COMPARISONS: Mapping[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


@dataclass(frozen=True)
class ScalingRules:
    min_capacity: int
    max_capacity: int
    target_value: float
    scale_out_cooldown_minutes: int
    scale_in_cooldown_minutes: int
    wake_threshold: float
    wake_compare: Callable[[float, float], bool]
    wake_adjustment: int
    wake_cooldown_minutes: int


def rules_from_template(template: Mapping[str, Mapping[str, Any]], prefix: str) -> ScalingRules:
    """The scaling rules of the service whose construct ids start with ``prefix``."""

    def one(resource_type: str, test: Callable[[Mapping[str, Any]], bool]) -> Mapping[str, Any]:
        found: list[Mapping[str, Any]] = [
            r["Properties"]
            for logical_id, r in template.items()
            if r["Type"] == resource_type and logical_id.startswith(prefix) and test(r)
        ]
        if len(found) != 1:
            raise LookupError(f"expected one {resource_type} for {prefix}*, found {len(found)}")
        return found[0]

    target = one("AWS::ApplicationAutoScaling::ScalableTarget", lambda r: True)
    tracking = one(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        lambda r: r["Properties"]["PolicyType"] == "TargetTrackingScaling",
    )["TargetTrackingScalingPolicyConfiguration"]
    step = one(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        lambda r: r["Properties"]["PolicyType"] == "StepScaling",
    )["StepScalingPolicyConfiguration"]
    # The wake-up alarm acts on the step policy; the "stalled" alarm on the same signal
    # only notifies people.
    alarm = one(
        "AWS::CloudWatch::Alarm",
        lambda r: (
            r["Properties"].get("MetricName") == WAKE_UP_SIGNAL
            and any(
                isinstance(action, dict)
                and template.get(str(action.get("Ref")), {}).get("Type")
                == "AWS::ApplicationAutoScaling::ScalingPolicy"
                for action in r["Properties"].get("AlarmActions", [])
            )
        ),
    )
    tracked = tracking["CustomizedMetricSpecification"]["MetricName"]
    if tracked != BACKLOG_PER_TASK:
        raise ValueError(f"the target tracking policy tracks {tracked}, not {BACKLOG_PER_TASK}")
    return ScalingRules(
        min_capacity=int(target["MinCapacity"]),
        max_capacity=int(target["MaxCapacity"]),
        target_value=float(tracking["TargetValue"]),
        scale_out_cooldown_minutes=math.ceil(int(tracking.get("ScaleOutCooldown", 300)) / 60),
        scale_in_cooldown_minutes=math.ceil(int(tracking.get("ScaleInCooldown", 300)) / 60),
        wake_threshold=float(alarm["Threshold"]),
        wake_compare=_COMPARISONS[alarm["ComparisonOperator"]],
        wake_adjustment=int(step["StepAdjustments"][0]["ScalingAdjustment"]),
        wake_cooldown_minutes=math.ceil(int(step.get("Cooldown", 60)) / 60),
    )


@dataclass(frozen=True)
class MetricTarget:
    """What the backlog metric function observes, read from its deployed environment
    (the names are the contract's)."""

    queue_url: str
    cluster_name: str
    service_name: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MetricTarget:
        return cls(
            queue_url=env[METRIC_QUEUE_URL_ENV],
            cluster_name=env[METRIC_CLUSTER_ENV],
            service_name=env[METRIC_SERVICE_ENV],
        )

    def queue_counts(self) -> tuple[int, int]:
        """Visible and in-flight messages, the two attributes the metric function reads."""
        attributes = boto3.client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=[VISIBLE_ATTRIBUTE, IN_FLIGHT_ATTRIBUTE],
        )["Attributes"]
        return (
            int(attributes[VISIBLE_ATTRIBUTE]),
            int(attributes[IN_FLIGHT_ATTRIBUTE]),
        )


class Autoscaler:
    """One decision per call of :meth:`decide` (one simulated minute)."""

    def __init__(self, rules: ScalingRules, target: MetricTarget) -> None:
        self.rules = rules
        self.target = target
        self.minute = 0
        self._last_out = -(10**6)
        self._last_in = -(10**6)
        self._last_wake = -(10**6)
        self._below = 0

    def decide(self, running: int, pending: int, desired: int) -> tuple[int, str]:
        """The new desired count, and a line saying why (empty when unchanged)."""
        self.minute += 1
        rules = self.rules
        # moto's ECS service runs no tasks, so the counts are local-deploy's processes;
        # the metric is the backlog metric function's own formula.
        visible, in_flight = self.target.queue_counts()
        sample = compute_backlog(visible, in_flight, running, pending, desired=desired)
        metric = sample.backlog_per_task
        messages = sample.messages
        new, why = desired, ""
        if (
            rules.wake_compare(sample.wake_up, rules.wake_threshold)
            and self.minute - self._last_wake >= rules.wake_cooldown_minutes
        ):
            new = desired + rules.wake_adjustment
            self._last_wake = self.minute
            why = f"wake-up alarm ({WAKE_UP_SIGNAL}={sample.wake_up})"
        capacity = max(desired, running + pending)
        wanted = math.ceil(capacity * metric / rules.target_value) if capacity else 0
        self._below = self._below + 1 if metric < rules.target_value else 0
        if wanted > new and self.minute - self._last_out >= rules.scale_out_cooldown_minutes:
            new, why = wanted, f"target tracking ({BACKLOG_PER_TASK}={metric:.2f})"
            self._last_out = self.minute
        elif (
            wanted < new
            and not why
            and self._below >= SCALE_IN_MINUTES
            and self.minute - max(self._last_out, self._last_in) >= rules.scale_in_cooldown_minutes
        ):
            new, why = wanted, f"target tracking scale-in ({BACKLOG_PER_TASK}={metric:.2f})"
            self._last_in = self.minute
        new = min(max(new, rules.min_capacity), rules.max_capacity)
        if new == desired:
            return desired, ""
        return new, (
            f"minute {self.minute}: {messages} messages, {running} running -> desired {new} "
            f"by {why}"
        )
