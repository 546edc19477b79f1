"""The baseline every topology is priced against: the web app as it runs today.

The web app exists in every option, with its tasks, its scaling rule and its network
(NAT gateway, Elastic IP, interface endpoints). Each topology is reported as the
increment over it. Which resources are the web app's comes from the ``webapp`` role
and what refers to it, never from logical ids.
"""

from __future__ import annotations

from collections.abc import Sequence

from comparison.cost.costing import CostBreakdown, price_usage
from comparison.cost.usage import Usage
from comparison.cost.usage.vpc import network_hours
from comparison.inputs.assumptions import HOURS_PER_MONTH
from comparison.inputs.prices import PriceTable
from comparison.inputs.templates import StackTemplate
from comparison.inputs.workload import Workload
from comparison.model.routing import web_app_ids
from comparison.model.scaling import fargate_size
from runtime.contract import ResourceRole

_TARGET_TRACKING_ALARMS = 2  # the high and low alarms Application Auto Scaling creates


def reference_template(templates: Sequence[StackTemplate]) -> StackTemplate | None:
    """A stack that contains the web app (every ECS stack does), to read its network from."""
    return next((t for t in templates if t.with_role(ResourceRole.WEBAPP)), None)


def baseline_usage(template: StackTemplate | None, workload: Workload) -> list[Usage]:
    """The web app's own tasks all month (``[webapp]``), its scaling alarms and its network."""
    web = workload.webapp
    architecture = "x86_64"
    usages: list[Usage] = []
    if template is not None:
        service = template.with_role(ResourceRole.WEBAPP)[0]
        architecture = fargate_size(template, service)[2]
        usages += network_hours(template)
        own = [template.resources[i] for i in web_app_ids(template)]
        tracking = sum(1 for r in own if "TargetTrackingScalingPolicyConfiguration" in r.properties)
        alarms = sum(1 for r in own if r.type == "AWS::CloudWatch::Alarm")
        count = alarms + _TARGET_TRACKING_ALARMS * tracking
        if count:
            usages.append(Usage("cloudwatch.alarm", count, "web app", "its scaling alarms"))
    hours = web.tasks * HOURS_PER_MONTH
    note = f"{web.tasks} x {web.vcpu:g} vCPU / {web.memory_gib:g} GB all month ({architecture})"
    usages += [
        Usage(f"fargate.vcpu_hour.{architecture}", hours * web.vcpu, "web app", note),
        Usage(f"fargate.gb_hour.{architecture}", hours * web.memory_gib, "web app", note),
    ]
    return usages


def baseline_breakdown(
    templates: Sequence[StackTemplate], workload: Workload, table: PriceTable
) -> CostBreakdown:
    usage = baseline_usage(reference_template(templates), workload)
    return price_usage(usage, table, free_tier=False)
