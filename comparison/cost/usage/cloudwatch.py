"""CloudWatch: alarms (AWS::CloudWatch::Alarm, and the two alarms every target-tracking
policy creates), custom metrics (what the stack alarms or scales on, and every metric a
backlog-metric function publishes) and Container Insights where a cluster enables it.
The web app's own alarms and metrics belong to the baseline."""

from __future__ import annotations

from comparison.cost.usage.logs import log_ingestion
from comparison.cost.usage.registry import Usage, UsageContext, extracts, extracts_stack
from comparison.inputs.templates import Resource
from runtime.contract import ResourceRole
from runtime.contract.backlog import METRIC_UNITS

# Container Insights (standard) metrics per ECS service, billed as custom metrics for
# the hours the service has running tasks
# (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/cloudwatch-container-insights.html).
# The per-service count and the performance-log volume are estimates from the metric list
# (CPU and memory reserved/utilized, network rx/tx, storage read/write, desired, running
# and pending task counts, deployments, task sets), not verified against a bill.
CONTAINER_INSIGHTS_METRICS_PER_SERVICE = 11
CONTAINER_INSIGHTS_LOG_BYTES_PER_TASK_MINUTE = 1_000.0

TARGET_TRACKING_ALARMS = 2  # one high, one low, created and billed by Application Auto Scaling


@extracts("AWS::CloudWatch::Alarm")
def alarm(resource: Resource, context: UsageContext) -> list[Usage]:
    if resource.logical_id in context.web_app:
        return []  # the web app's own scaling alarms: baseline
    return [Usage("cloudwatch.alarm", 1, resource.logical_id, "standard-resolution alarm")]


@extracts("AWS::ApplicationAutoScaling::ScalingPolicy")
def target_tracking_alarms(resource: Resource, context: UsageContext) -> list[Usage]:
    if (
        "TargetTrackingScalingPolicyConfiguration" not in resource.properties
        or resource.logical_id in context.web_app
    ):
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
            if (
                resource.type
                in (
                    "AWS::CloudWatch::Alarm",
                    "AWS::ApplicationAutoScaling::ScalingPolicy",
                )
                and resource.logical_id not in context.web_app
            ):
                metric = _custom_metric(spec)
                if metric:
                    found.add(metric)
    publishers = context.template.with_role(ResourceRole.BACKLOG_METRIC)
    # Each metric function publishes every one of the runtime's metrics, per service.
    published = len(METRIC_UNITS) * len(publishers)
    others = {m for m in found if not (publishers and m[1] in METRIC_UNITS)}
    names = ", ".join(sorted(f"{ns}/{name}" for ns, name in others))
    note = f"{len(METRIC_UNITS)} per metric function ({', '.join(METRIC_UNITS)})"
    return [
        Usage("cloudwatch.metric", published, "custom metrics", note),
        Usage("cloudwatch.metric", len(others), "custom metrics", names or "none"),
    ]


@extracts("AWS::ECS::Cluster")
def container_insights(cluster: Resource, context: UsageContext) -> list[Usage]:
    """Metrics for the hours each task-work service runs, and its performance log events."""
    settings = cluster.properties.get("ClusterSettings") or []
    enabled = any(
        s.get("Name") == "containerInsights" and s.get("Value") in ("enabled", "enhanced")
        for s in settings
        if isinstance(s, dict)
    )
    if not enabled:
        return []
    usages: list[Usage] = []
    for consumer in context.routing.consumers:
        run = context.runs.get(consumer.logical_id)
        if consumer.resource.type != "AWS::ECS::Service" or run is None:
            continue
        if consumer.resource.logical_id in context.web_app:
            continue  # the web app's own service reports anyway: baseline
        steps = run.timeline
        active = (len(steps) - steps.count(0)) / len(steps) if steps else 1.0
        metrics = CONTAINER_INSIGHTS_METRICS_PER_SERVICE * active
        per_service = CONTAINER_INSIGHTS_METRICS_PER_SERVICE
        note = f"Container Insights: {per_service} metrics x {active:.0%} of hours"
        usages.append(Usage("cloudwatch.metric", metrics, consumer.logical_id, note))
        minutes = context.monthly(run.unit_seconds) / 60
        usages.append(
            log_ingestion(
                consumer.logical_id,
                minutes * CONTAINER_INSIGHTS_LOG_BYTES_PER_TASK_MINUTE,
                "Container Insights performance log events",
            )
        )
    return usages
