"""AWS::ECS::Service: Fargate vCPU- and GB-hours, public IPv4 on tasks, and task logs.

Task-hours come from the simulated day (scale-to-zero, wake-ups and scale-in delays
included); a service the simulation did not run keeps its desired count all month.
The web app runs in every topology for its own traffic, so a web-app service is charged
only the task-hours that task work adds (its run minus its run with no tasks).
"""

from __future__ import annotations

from comparison.cost.usage.logs import log_ingestion
from comparison.cost.usage.registry import Usage, UsageContext, extracts
from comparison.inputs.assumptions import HOURS_PER_MONTH
from comparison.model.resources import ServiceModel
from comparison.model.routing import ConsumerKind
from comparison.model.scaling import scaling_params
from comparison.model.sizing import poller_web_app_size, service_size
from comparison.simulate.simulation import ConsumerRun


def _hours(run: ConsumerRun, context: UsageContext) -> float:
    return context.monthly(run.unit_seconds) / 3600


def task_hours(service: ServiceModel, context: UsageContext) -> float:
    """Task-hours a month: simulated, else the desired count (or minimum capacity) all month."""
    run = context.runs.get(service.logical_id)
    if run is not None:
        return _hours(run, context)
    params = scaling_params(service, context.assumptions, default_target=1.0)
    running = params.desired_count if service.desired_count is not None else params.min_capacity
    return running * HOURS_PER_MONTH


def _web_app_extra_hours(service: ServiceModel, context: UsageContext) -> tuple[float, float]:
    """(task-hours the web app runs because of task work: its run minus its run without
    tasks; task-hours it runs for its own traffic). Zero for a web app without pollers."""
    run, baseline = (
        context.runs.get(service.logical_id),
        context.baseline_runs.get(service.logical_id),
    )
    if run is None or baseline is None:
        return 0.0, 0.0  # not a poller: task work never reaches it
    own = _hours(baseline, context)
    return max(0.0, _hours(run, context) - own), own


def _web_app_usage(service: ServiceModel, context: UsageContext) -> tuple[float, float, str]:
    """(vCPU-hours, GB-hours, note) the pollers add to the web app: its extra tasks at its
    size, and the growth of its own tasks from the baseline's size (the workload's
    ``[webapp]``) to that size. The size is the template's, grown to hold the web app's
    own memory plus its poller threads' runs (``poller_web_app_size``): a template
    smaller than that is a stand-in for the web app as it would have to run."""
    web = context.workload.webapp
    extra, own = _web_app_extra_hours(service, context)
    consumer = context.consumer(service.logical_id)
    threads = consumer.threads_per_unit if consumer is not None else 0
    size = poller_web_app_size(context.workload, threads, at_least=service_size(service))
    vcpu, memory_gb = size.vcpu, size.memory_gb
    grown_vcpu, grown_gb = max(0.0, vcpu - web.vcpu), max(0.0, memory_gb - web.memory_gib)
    note = (
        f"{extra:,.0f} extra task-hours x {vcpu:g} vCPU / {memory_gb:g} GB ({service.architecture})"
    )
    if own and (grown_vcpu or grown_gb):
        note += (
            f", and its {own:,.0f} own task-hours grown by {grown_vcpu:g} vCPU / {grown_gb:g} GB "
            f"from the baseline's {web.vcpu:g} vCPU / {web.memory_gib:g} GB to hold "
            f"{threads} poller thread{'s' if threads != 1 else ''}"
        )
    return extra * vcpu + own * grown_vcpu, extra * memory_gb + own * grown_gb, note


@extracts("AWS::ECS::Service")
def fargate_service(service: ServiceModel, context: UsageContext) -> list[Usage]:
    architecture = service.architecture
    if service.role == ConsumerKind.WEBAPP.value:
        vcpu_hours, gb_hours, note = _web_app_usage(service, context)
        hours = _web_app_extra_hours(service, context)[0]
    else:
        hours = task_hours(service, context)
        vcpu_hours, gb_hours = service.vcpu * hours, service.memory_gb * hours
        note = (
            f"{hours:,.0f} task-hours x {service.vcpu:g} vCPU / {service.memory_gb:g} GB "
            f"({architecture})"
        )
    usages = [
        Usage(f"fargate.vcpu_hour.{architecture}", vcpu_hours, service.logical_id, note),
        Usage(f"fargate.gb_hour.{architecture}", gb_hours, service.logical_id, note),
    ]
    if service.public_ip:
        usages.append(Usage("ipv4.hour", hours, service.logical_id, "a public IPv4 per task"))
    consumer = context.consumer(service.logical_id)
    if consumer is not None:
        volume = context.volume(consumer.tasks)
        usages.append(
            log_ingestion(
                service.logical_id,
                volume * context.assumptions.log_bytes_per_task,
                f"{volume:,.0f} task runs x {context.assumptions.log_bytes_per_task:,.0f} B",
            )
        )
    return usages
