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
from comparison.inputs.workload import Workload
from comparison.model.resources import AlarmModel, ScalingPolicyModel, ServiceModel
from comparison.model.topology import TopologyModel
from runtime.contract import ResourceRole

_TARGET_TRACKING_ALARMS = 2  # the high and low alarms Application Auto Scaling creates


def _web_app_service(model: TopologyModel) -> ServiceModel | None:
    services = [s for s in model.of_kind(ServiceModel) if s.role == ResourceRole.WEBAPP]
    return services[0] if services else None


def reference_model(models: Sequence[TopologyModel]) -> TopologyModel | None:
    """A stack that contains the web app (every ECS stack does), to read its network from."""
    return next((m for m in models if _web_app_service(m) is not None), None)


def baseline_usage(model: TopologyModel | None, workload: Workload) -> list[Usage]:
    """The web app's own tasks all month (``[webapp]``), its scaling alarms and its network."""
    web = workload.webapp
    architecture = "x86_64"
    usages: list[Usage] = []
    service = _web_app_service(model) if model is not None else None
    if model is not None and service is not None:
        architecture = service.architecture
        usages += network_hours(model.network)
        own = [r for r in model.resources if r.logical_id in model.web_app]
        tracking = sum(1 for r in own if isinstance(r, ScalingPolicyModel) and r.target_tracking)
        alarms = sum(1 for r in own if isinstance(r, AlarmModel))
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
    models: Sequence[TopologyModel], workload: Workload, table: PriceTable
) -> CostBreakdown:
    usage = baseline_usage(reference_model(models), workload)
    return price_usage(usage, table, free_tier=False)
