"""CloudWatch: alarms (AWS::CloudWatch::Alarm, and the two alarms every target-tracking
policy creates) and custom metrics (distinct non-AWS metrics the stack alarms or scales on,
or that a backlog-metric function publishes)."""

from __future__ import annotations

from comparison.templates import Resource
from comparison.usage.registry import Usage, UsageContext, extracts, extracts_stack

TARGET_TRACKING_ALARMS = 2  # one high, one low, created and billed by Application Auto Scaling


@extracts("AWS::CloudWatch::Alarm")
def alarm(resource: Resource, context: UsageContext) -> list[Usage]:
    return [Usage("cloudwatch.alarm", 1, resource.logical_id, "standard-resolution alarm")]


@extracts("AWS::ApplicationAutoScaling::ScalingPolicy")
def target_tracking_alarms(resource: Resource, context: UsageContext) -> list[Usage]:
    if "TargetTrackingScalingPolicyConfiguration" not in resource.properties:
        return []
    return [
        Usage(
            "cloudwatch.alarm",
            TARGET_TRACKING_ALARMS,
            resource.logical_id,
            "the high and low alarms of target tracking",
        )
    ]


def _custom_metric(spec: object) -> tuple[str, str] | None:
    if not isinstance(spec, dict):
        return None
    namespace, name = spec.get("Namespace"), spec.get("MetricName")
    if isinstance(namespace, str) and isinstance(name, str) and not namespace.startswith("AWS/"):
        return namespace, name
    return None


@extracts_stack
def custom_metrics(context: UsageContext) -> list[Usage]:
    found: set[tuple[str, str]] = set()
    for resource in context.template.resources.values():
        props = resource.properties
        tracking = props.get("TargetTrackingScalingPolicyConfiguration", {})
        for spec in (
            props,
            tracking.get("CustomizedMetricSpecification") if isinstance(tracking, dict) else None,
        ):
            if resource.type in (
                "AWS::CloudWatch::Alarm",
                "AWS::ApplicationAutoScaling::ScalingPolicy",
            ):
                metric = _custom_metric(spec)
                if metric:
                    found.add(metric)
    publishers = context.template.with_role("backlog-metric")
    count = max(len(found), len(publishers))
    names = (
        ", ".join(sorted(f"{ns}/{name}" for ns, name in found))
        or "published by the metric function"
    )
    return [Usage("cloudwatch.metric", count, "custom metrics", names)]
