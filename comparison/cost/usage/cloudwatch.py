"""CloudWatch: alarms (AWS::CloudWatch::Alarm, and the two alarms every target-tracking
policy creates), custom metrics (what the stack alarms or scales on, and every metric a
backlog-metric function publishes) and Container Insights where a cluster enables it.
The web app's own alarms and metrics belong to the baseline."""

from __future__ import annotations

from comparison.cost.usage.logs import log_ingestion
from comparison.cost.usage.registry import Usage, UsageContext, extracts, extracts_stack
from comparison.model.resources import (
    AlarmModel,
    ClusterModel,
    ScalingPolicyModel,
    ServiceModel,
)
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
def alarm(resource: AlarmModel, context: UsageContext) -> list[Usage]:
    if resource.logical_id in context.web_app:
        return []  # the web app's own scaling alarms: baseline
    return [Usage("cloudwatch.alarm", 1, resource.logical_id, "standard-resolution alarm")]


@extracts("AWS::ApplicationAutoScaling::ScalingPolicy")
def target_tracking_alarms(resource: ScalingPolicyModel, context: UsageContext) -> list[Usage]:
    if not resource.target_tracking or resource.logical_id in context.web_app:
        return []
    return [
        Usage(
            "cloudwatch.alarm",
            TARGET_TRACKING_ALARMS,
            resource.logical_id,
            "the high and low alarms of target tracking",
        )
    ]


@extracts_stack
def custom_metrics(context: UsageContext) -> list[Usage]:
    found = {
        metric
        for resource in context.model.resources
        if isinstance(resource, AlarmModel | ScalingPolicyModel)
        and resource.logical_id not in context.web_app
        for metric in resource.custom_metrics
    }
    publishers = context.model.with_role(ResourceRole.BACKLOG_METRIC)
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
def container_insights(cluster: ClusterModel, context: UsageContext) -> list[Usage]:
    """Metrics for the hours each task-work service runs, and its performance log events."""
    if not cluster.container_insights:
        return []
    usages: list[Usage] = []
    for consumer in context.routing.consumers:
        run = context.runs.get(consumer.logical_id)
        if not isinstance(consumer.resource, ServiceModel) or run is None:
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
