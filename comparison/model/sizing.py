"""A topology's sizing, read from its model and applied to it.

The sizing file (``runtime/contract/sizing.py``) is what ``cdk synth -c sizing=`` turns
into a template. :func:`apply_sizing` makes the same change to a model, so the sizing
search can try a sizing without synthesizing it; ``tests/comparison/test_sizing_loop.py``
synthesizes the sizings the search writes and checks that their templates give the same
figures. :func:`stated_sizing` reads the sizing a model's template states (the settings
shipped), and :func:`describe_sizing` says it in a line.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import replace

from comparison.inputs.workload import Workload
from comparison.model.resources import FunctionModel, ResourceModel, ServiceModel
from comparison.model.routing import Consumer, ConsumerKind
from comparison.model.scaling import ScalingReading
from comparison.model.topology import TopologyModel
from runtime.catalogue import CATALOGUE
from runtime.contract import ResourceRole
from runtime.contract.backlog import (
    DEFAULT_ACCEPTABLE_LATENCY_SECONDS,
    latency_for_target,
    target_backlog_per_task,
)
from runtime.contract.fargate import CPU_UNITS_PER_VCPU, TaskSize, cheapest_size, memory_for_runs
from runtime.contract.sizing import (
    LambdasSizing,
    PrivateEndpointsSizing,
    TaskFunctionSizing,
    WebappPollerSizing,
    WebAppSizing,
    WorkerServiceSizing,
)

TopologySizing = LambdasSizing | WorkerServiceSizing | WebappPollerSizing | PrivateEndpointsSizing


def processing_seconds() -> float:
    """The task time the worker service's backlog target is derived from: the mean of
    the catalogue's expected durations over the shared queue's tasks, as
    ``task_constructs.queue_worker_service`` computes it at synth."""
    return statistics.fmean(task.expected_duration_seconds for task in CATALOGUE.values())


def largest_run_memory(workload: Workload) -> int:
    """The memory each of a container's threads must hold: the largest among the
    catalogue's tasks (a shared-queue worker, poller or endpoint may be handed any of
    them), at the workload's ``memory_mib`` where it names the task, as the sizing file's
    ``taskMemoryMiB`` resizes the catalogue the stacks check against."""
    memory = {name: task.memory_mib for name, task in CATALOGUE.items()}
    memory |= {task.name: task.memory_mib for task in workload.tasks}
    return max(memory.values())


def poller_web_app_size(
    workload: Workload, threads: int, at_least: TaskSize | None = None
) -> TaskSize:
    """The web app's Fargate size once each task runs ``threads`` poller threads: the
    cheapest valid size holding its own memory (the workload's ``[webapp]``) plus
    ``threads`` x the largest run, with at least its vCPU and at least ``at_least`` (a
    template's size). The sizing search sizes the web app by it and the cost model
    prices a template's web app by it, so neither prices a web app too small for its
    pollers. Fargate's usual price ratio picks between sizes (``cheapest_size``)."""
    web = workload.webapp
    own = round(web.memory_gib * 1024)
    needed = memory_for_runs(threads, largest_run_memory(workload), reserved_mib=own)
    size = cheapest_size(
        min_memory_mib=max(needed, at_least.memory_mib if at_least else 0),
        min_cpu=max(math.ceil(web.vcpu * CPU_UNITS_PER_VCPU), at_least.cpu if at_least else 0),
    )
    if size is None:
        raise ValueError(
            f"no Fargate size holds the web app's {web.memory_gib:g} GiB plus {threads} "
            "poller threads' runs; use fewer poller threads"
        )
    return size


def service_size(service: ServiceModel) -> TaskSize:
    return TaskSize(round(service.vcpu * CPU_UNITS_PER_VCPU), round(service.memory_gb * 1024))


def web_app_service(model: TopologyModel) -> ServiceModel | None:
    return next(
        (s for s in model.of_kind(ServiceModel) if s.role == ResourceRole.WEBAPP.value), None
    )


def _consumer(model: TopologyModel, kind: ConsumerKind) -> Consumer | None:
    return next((c for c in model.routing.consumers if c.kind is kind), None)


def _web_app_stated(model: TopologyModel) -> WebAppSizing:
    service = web_app_service(model)
    if service is None:
        return WebAppSizing()
    size = service_size(service)
    reading = service.scaling
    return WebAppSizing(
        cpu=size.cpu,
        memory_mib=size.memory_mib,
        min_tasks=reading.min_capacity if reading else None,
        max_tasks=reading.max_capacity if reading else None,
    )


def _tracking_target(service: ServiceModel) -> float | None:
    reading = service.scaling
    if reading is None:
        return None
    return next((t.target for t in reading.tracking if t.target is not None), None)


def stated_sizing(model: TopologyModel) -> TopologySizing | None:
    """The sizing the model's template states; None for a stack of no known kind."""
    web_app = _web_app_stated(model)
    match model.kind:
        case ConsumerKind.LAMBDA:
            return LambdasSizing(
                tasks={
                    c.tasks[0]: TaskFunctionSizing(
                        max_concurrency=c.resource.max_concurrency,
                        memory_mib=c.resource.memory_mib,
                    )
                    for c in model.routing.consumers
                    if isinstance(c.resource, FunctionModel) and len(c.tasks) == 1
                }
            )
        case ConsumerKind.WORKER:
            worker = _consumer(model, ConsumerKind.WORKER)
            if worker is None or not isinstance(worker.resource, ServiceModel):
                return None
            size = service_size(worker.resource)
            target = _tracking_target(worker.resource)
            reading = worker.resource.scaling
            latency = (
                latency_for_target(target, processing_seconds(), worker.threads_per_unit)
                if target is not None
                else DEFAULT_ACCEPTABLE_LATENCY_SECONDS
            )
            return WorkerServiceSizing(
                max_tasks=reading.max_capacity if reading else None,
                cpu=size.cpu,
                memory_mib=size.memory_mib,
                worker_threads=worker.threads_per_unit,
                acceptable_latency_seconds=round(latency),
                web_app=web_app,
            )
        case ConsumerKind.WEBAPP:
            poller = _consumer(model, ConsumerKind.WEBAPP)
            return WebappPollerSizing(
                poller_threads=poller.threads_per_unit if poller else None, web_app=web_app
            )
        case ConsumerKind.ENDPOINT:
            endpoint = _consumer(model, ConsumerKind.ENDPOINT)
            if endpoint is None or not isinstance(endpoint.resource, ServiceModel):
                return None
            size = service_size(endpoint.resource)
            reading = endpoint.resource.scaling
            return PrivateEndpointsSizing(
                min_tasks=reading.min_capacity if reading else None,
                max_tasks=reading.max_capacity if reading else None,
                cpu=size.cpu,
                memory_mib=size.memory_mib,
                request_concurrency=endpoint.threads_per_unit,
                web_app=web_app,
            )
    return None


# -- applying a sizing ---------------------------------------------------------------------


def _with_record(
    model: TopologyModel, record: ResourceModel, threads: int | None = None
) -> TopologyModel:
    """``model`` with ``record`` in place of the resource of the same logical id, in its
    resources and in the consumer that carries it (with ``threads`` per unit if given)."""
    resources = tuple(record if r.logical_id == record.logical_id else r for r in model.resources)
    consumers = tuple(
        replace(
            c,
            resource=record,
            threads_per_unit=c.threads_per_unit if threads is None else threads,
        )
        if c.logical_id == record.logical_id and isinstance(record, FunctionModel | ServiceModel)
        else c
        for c in model.routing.consumers
    )
    return replace(model, resources=resources, routing=replace(model.routing, consumers=consumers))


def _scaled(
    service: ServiceModel,
    *,
    cpu: int | None,
    memory_mib: int | None,
    min_tasks: int | None = None,
    max_tasks: int | None = None,
    target: float | None = None,
) -> ServiceModel:
    changes: dict[str, object] = {}
    if cpu is not None and memory_mib is not None:
        changes |= {"vcpu": cpu / CPU_UNITS_PER_VCPU, "memory_gb": memory_mib / 1024}
    reading = service.scaling
    if reading is not None:
        tracking = reading.tracking
        if target is not None:
            tracking = tuple(replace(t, target=target) for t in tracking)
        scaling: ScalingReading = replace(
            reading,
            min_capacity=reading.min_capacity if min_tasks is None else min_tasks,
            max_capacity=reading.max_capacity if max_tasks is None else max_tasks,
            tracking=tracking,
        )
        changes["scaling"] = scaling
        if min_tasks is not None and service.desired_count is not None:
            changes["desired_count"] = max(service.desired_count, min_tasks)
    return replace(service, **changes)  # type: ignore[arg-type]


def _apply_web_app(
    model: TopologyModel, web_app: WebAppSizing, threads: int | None
) -> TopologyModel:
    service = web_app_service(model)
    if service is None:
        return model
    scaled = _scaled(
        service,
        cpu=web_app.cpu,
        memory_mib=web_app.memory_mib,
        min_tasks=web_app.min_tasks,
        max_tasks=web_app.max_tasks,
    )
    return _with_record(model, scaled, threads)


def _apply_lambdas(model: TopologyModel, sizing: LambdasSizing) -> TopologyModel:
    for consumer in model.routing.consumers:
        function = consumer.resource
        if not isinstance(function, FunctionModel) or len(consumer.tasks) != 1:
            continue
        task = sizing.tasks.get(consumer.tasks[0])
        if task is None:
            continue
        changes: dict[str, object] = {}
        if task.max_concurrency is not None:
            changes["max_concurrency"] = task.max_concurrency
        if task.memory_mib is not None:
            changes["memory_mib"] = task.memory_mib
        model = _with_record(model, replace(function, **changes))  # type: ignore[arg-type]
    return model


def _apply_worker(model: TopologyModel, sizing: WorkerServiceSizing) -> TopologyModel:
    worker = _consumer(model, ConsumerKind.WORKER)
    if worker is not None and isinstance(worker.resource, ServiceModel):
        threads = sizing.worker_threads or worker.threads_per_unit
        stated = stated_sizing(model)
        latency = sizing.acceptable_latency_seconds or (
            stated.acceptable_latency_seconds
            if isinstance(stated, WorkerServiceSizing) and stated.acceptable_latency_seconds
            else DEFAULT_ACCEPTABLE_LATENCY_SECONDS
        )
        target = target_backlog_per_task(latency, processing_seconds(), threads)
        scaled = _scaled(
            worker.resource,
            cpu=sizing.cpu,
            memory_mib=sizing.memory_mib,
            max_tasks=sizing.max_tasks,
            target=target,
        )
        model = _with_record(model, scaled, threads)
    return _apply_web_app(model, sizing.web_app, None)


def _apply_endpoints(model: TopologyModel, sizing: PrivateEndpointsSizing) -> TopologyModel:
    endpoint = _consumer(model, ConsumerKind.ENDPOINT)
    if endpoint is not None and isinstance(endpoint.resource, ServiceModel):
        scaled = _scaled(
            endpoint.resource,
            cpu=sizing.cpu,
            memory_mib=sizing.memory_mib,
            min_tasks=sizing.min_tasks,
            max_tasks=sizing.max_tasks,
        )
        model = _with_record(model, scaled, sizing.request_concurrency)
    return _apply_web_app(model, sizing.web_app, None)


def apply_sizing(model: TopologyModel, sizing: TopologySizing) -> TopologyModel:
    """``model`` as its template would be synthesized with ``sizing`` (absent fields keep
    what the template states)."""
    match sizing:
        case LambdasSizing():
            return _apply_lambdas(model, sizing)
        case WorkerServiceSizing():
            return _apply_worker(model, sizing)
        case WebappPollerSizing():
            return _apply_web_app(model, sizing.web_app, sizing.poller_threads)
        case PrivateEndpointsSizing():
            return _apply_endpoints(model, sizing)


# -- saying it -----------------------------------------------------------------------------


def _size(cpu: int | None, memory_mib: int | None) -> str:
    if cpu is None or memory_mib is None:
        return "the default size"
    return TaskSize(cpu, memory_mib).describe()


def _count(value: float | None, noun: str, unset: str) -> str:
    """ "1 thread", "8 threads", or ``unset`` when the sizing leaves it to the default."""
    if value is None:
        return unset
    return f"{value:g} {noun}{'' if value == 1 else 's'}"


def _function(task: str, sizing: TaskFunctionSizing) -> str:
    cap = (
        f"up to {sizing.max_concurrency} at once"
        if sizing.max_concurrency is not None
        else "no concurrency cap"
    )
    memory = f"{sizing.memory_mib} MB" if sizing.memory_mib is not None else "the default memory"
    return f"{task} {cap}, {memory}"


def describe_sizing(sizing: TopologySizing) -> str:
    """One line, e.g. "up to 12 tasks of 1 vCPU / 4 GiB, 4 threads each"; a field the
    sizing leaves unset (the template's or the catalogue's default) is said so."""
    match sizing:
        case LambdasSizing():
            return "; ".join(_function(task, s) for task, s in sorted(sizing.tasks.items()))
        case WorkerServiceSizing():
            latency = sizing.acceptable_latency_seconds
            return (
                f"up to {_count(sizing.max_tasks, 'task', 'the default tasks')} of "
                f"{_size(sizing.cpu, sizing.memory_mib)}, "
                f"{_count(sizing.worker_threads, 'thread', 'the default threads')} each, "
                "scaling out past "
                + (f"{latency:g} s of backlog" if latency is not None else "the default backlog")
            )
        case WebappPollerSizing():
            web = sizing.web_app
            return (
                f"{_count(sizing.poller_threads, 'poller thread', 'the default poller threads')} "
                f"in each web app task of {_size(web.cpu, web.memory_mib)}, up to "
                f"{_count(web.max_tasks, 'task', 'the default tasks')}"
            )
        case PrivateEndpointsSizing():
            low = "the default" if sizing.min_tasks is None else f"{sizing.min_tasks}"
            return (
                f"{low} to {_count(sizing.max_tasks, 'task', 'the default tasks')} of "
                f"{_size(sizing.cpu, sizing.memory_mib)}, "
                f"{_count(sizing.request_concurrency, 'request', 'the default requests')} "
                "at once each"
            )
