"""The sizing file (``-c sizing=<file>``) applied to the stacks, resolved once per topology.

A field the file leaves out keeps the stack default below, whatever the other fields
say: ``comparison.model.sizing.apply_sizing`` assumes exactly that when it sizes a
model without synthesizing it, and ``tests/stacks/test_sizing.py`` holds the two to it.

Honest container sizes: a container that runs N task runs at once holds N times the
largest ``memory_mib`` among the tasks it runs (the web app that polls keeps
``WEB_APP_MIN_OWN_MIB`` for itself too). A sizing that does not fit is refused with one
line naming the key, the value and the smallest memory that fits; it is never shrunk
or grown silently, since the comparison costs what the file says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final

from runtime.catalogue import TaskCatalogue, TaskType
from runtime.contract.backlog import DEFAULT_ACCEPTABLE_LATENCY_SECONDS
from runtime.contract.fargate import (
    MAX_TASK_MEMORY_MIB,
    WEB_APP_MIN_OWN_MIB,
    cheapest_size,
    memory_for_runs,
)
from runtime.contract.sizing import (
    LambdasSizing,
    PrivateEndpointsSizing,
    Sizing,
    WebappPollerSizing,
    WebAppSizing,
    WorkerServiceSizing,
)
from stacks.settings import SettingsError
from task_constructs.core.defaults import given

__all__ = [
    "DEFAULT_ENDPOINTS",
    "DEFAULT_POLLER_THREADS",
    "DEFAULT_POLLING_WEB_APP",
    "DEFAULT_WEB_APP",
    "DEFAULT_WORKERS",
    "EndpointsSize",
    "WebAppSize",
    "WorkersSize",
    "endpoints_sizes",
    "lambdas_catalogue",
    "resized_catalogue",
    "webapp_poller_sizes",
    "worker_service_sizes",
]

_PREFIX: Final = "context 'sizing':"


@dataclass(frozen=True, kw_only=True)
class WebAppSize:
    """The web app's Fargate size and its task range."""

    cpu: int
    memory_mib: int
    min_tasks: int
    max_tasks: int


@dataclass(frozen=True, kw_only=True)
class WorkersSize:
    """The worker service (worker-service): size, most tasks, threads, backlog latency."""

    cpu: int
    memory_mib: int
    max_tasks: int
    threads: int
    acceptable_latency_seconds: float


@dataclass(frozen=True, kw_only=True)
class EndpointsSize:
    """The endpoint service (private-endpoints): size, task range, runs per task."""

    cpu: int
    memory_mib: int
    min_tasks: int
    max_tasks: int
    request_concurrency: int


# The web app where it only produces: 0.5 vCPU / 1 GiB, 1..4 tasks.
DEFAULT_WEB_APP: Final = WebAppSize(cpu=512, memory_mib=1024, min_tasks=1, max_tasks=4)
# webapp-poller: 2 poller threads of the catalogue's largest task (1 GiB) beside the
# web app's own 512 MiB need 2560 MiB; 0.5 vCPU / 3 GiB is the cheapest Fargate size
# that holds them.
DEFAULT_POLLER_THREADS: Final = 2
DEFAULT_POLLING_WEB_APP: Final = replace(DEFAULT_WEB_APP, memory_mib=3072)
# worker-service: 4 threads of 1 GiB tasks in 0.5 vCPU / 4 GiB, 0..4 tasks.
DEFAULT_WORKERS: Final = WorkersSize(
    cpu=512,
    memory_mib=4096,
    max_tasks=4,
    threads=4,
    acceptable_latency_seconds=DEFAULT_ACCEPTABLE_LATENCY_SECONDS,
)
# private-endpoints: 4 runs of 1 GiB tasks in 0.5 vCPU / 4 GiB, 1..4 tasks.
DEFAULT_ENDPOINTS: Final = EndpointsSize(
    cpu=512, memory_mib=4096, min_tasks=1, max_tasks=4, request_concurrency=4
)


# -- the catalogue -------------------------------------------------------------------------


def _refuse_unknown(names: Mapping[str, object], catalogue: TaskCatalogue, where: str) -> None:
    unknown = sorted(set(names) - set(catalogue))
    if unknown:
        raise SettingsError(
            f"{_PREFIX} '{where}.{unknown[0]}' is not a task; use one of {', '.join(catalogue)}"
        )


def resized_catalogue(catalogue: TaskCatalogue, sizing: Sizing) -> TaskCatalogue:
    """``catalogue`` with the sizing's ``taskMemoryMiB`` as its tasks' ``memory_mib``:
    the Lambda memory and the memory an ECS container holds per run, in every topology."""
    _refuse_unknown(sizing.task_memory_mib, catalogue, "taskMemoryMiB")
    return TaskCatalogue(
        replace(task, memory_mib=sizing.task_memory_mib.get(task.name, task.memory_mib))
        for task in catalogue.values()
    )


def lambdas_catalogue(catalogue: TaskCatalogue, section: LambdasSizing | None) -> TaskCatalogue:
    """``catalogue`` with the lambdas section's per-task concurrency caps and memory
    (they win over ``taskMemoryMiB``), which ``TaskFunctions`` synthesizes."""
    tasks = section.tasks if section is not None else {}
    _refuse_unknown(tasks, catalogue, "lambdas.tasks")
    return TaskCatalogue(
        replace(
            task,
            max_concurrency=given(tasks[task.name].max_concurrency, task.max_concurrency),
            memory_mib=given(tasks[task.name].memory_mib, task.memory_mib),
        )
        if task.name in tasks
        else task
        for task in catalogue.values()
    )


# -- the containers ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Container:
    """A container that runs ``threads`` task runs at once, and the sizing keys that set
    them: ``threads_key`` and ``memory_key`` under ``section``."""

    section: str
    threads_key: str
    threads: int
    threads_given: bool
    memory_key: str
    memory_mib: int
    memory_given: bool
    reserved_mib: int = 0


def _largest(catalogue: TaskCatalogue) -> TaskType:
    return max(catalogue.values(), key=lambda task: task.memory_mib)


def _refuse_unfit(container: _Container, catalogue: TaskCatalogue, sizing: Sizing) -> None:
    task = _largest(catalogue)
    need = memory_for_runs(container.threads, task.memory_mib, reserved_mib=container.reserved_mib)
    if container.memory_mib >= need:
        return
    threads_key = f"{container.section}.{container.threads_key}"
    memory_key = f"{container.section}.{container.memory_key}"
    if container.memory_given:
        key, value = memory_key, container.memory_mib
    elif container.threads_given or task.name not in sizing.task_memory_mib:
        key, value = threads_key, container.threads
    else:
        key, value = f"taskMemoryMiB.{task.name}", task.memory_mib
    own = f" + {container.reserved_mib} MiB for the web app" if container.reserved_mib else ""
    default = "" if container.memory_given else " (the default)"
    size = cheapest_size(min_memory_mib=need)
    fix = (
        f"give it {need} MiB or more (e.g. cpu {size.cpu} with memoryMiB {size.memory_mib}), "
        f"or fewer {container.threads_key}"
        if size is not None
        else f"Fargate's largest task has {MAX_TASK_MEMORY_MIB} MiB; use fewer "
        f"{container.threads_key}"
    )
    raise SettingsError(
        f"{_PREFIX} '{key}' is {value}; {container.threads} runs of {task.name} "
        f"({task.memory_mib} MiB, the largest task){own} need {need} MiB, more than "
        f"'{memory_key}' {container.memory_mib}{default}: {fix}"
    )


def _web_app(section: WebAppSizing, default: WebAppSize, where: str) -> WebAppSize:
    size = WebAppSize(
        cpu=given(section.cpu, default.cpu),
        memory_mib=given(section.memory_mib, default.memory_mib),
        min_tasks=given(section.min_tasks, default.min_tasks),
        max_tasks=given(section.max_tasks, default.max_tasks),
    )
    _refuse_inverted(size.min_tasks, size.max_tasks, where)
    return size


def _refuse_inverted(min_tasks: int, max_tasks: int, where: str) -> None:
    if max_tasks < min_tasks:
        raise SettingsError(
            f"{_PREFIX} '{where}' runs {min_tasks}..{max_tasks} tasks (with the defaults); "
            "set minTasks and maxTasks so that minTasks <= maxTasks"
        )


def worker_service_sizes(
    sizing: Sizing, catalogue: TaskCatalogue
) -> tuple[WorkersSize, WebAppSize]:
    """The worker service's and the web app's sizes in worker-service."""
    section = sizing.worker_service or WorkerServiceSizing()
    default = DEFAULT_WORKERS
    workers = WorkersSize(
        cpu=given(section.cpu, default.cpu),
        memory_mib=given(section.memory_mib, default.memory_mib),
        max_tasks=given(section.max_tasks, default.max_tasks),
        threads=given(section.worker_threads, default.threads),
        acceptable_latency_seconds=given(
            section.acceptable_latency_seconds, default.acceptable_latency_seconds
        ),
    )
    container = _Container(
        section="worker-service",
        threads_key="workerThreads",
        threads=workers.threads,
        threads_given=section.worker_threads is not None,
        memory_key="memoryMiB",
        memory_mib=workers.memory_mib,
        memory_given=section.memory_mib is not None,
    )
    _refuse_unfit(container, catalogue, sizing)
    return workers, _web_app(section.web_app, DEFAULT_WEB_APP, "worker-service.webApp")


def webapp_poller_sizes(sizing: Sizing, catalogue: TaskCatalogue) -> tuple[int, WebAppSize]:
    """The poller threads in each web app task, and the web app's size, in webapp-poller."""
    section = sizing.webapp_poller or WebappPollerSizing()
    threads = given(section.poller_threads, DEFAULT_POLLER_THREADS)
    web_app = _web_app(section.web_app, DEFAULT_POLLING_WEB_APP, "webapp-poller.webApp")
    container = _Container(
        section="webapp-poller",
        threads_key="pollerThreads",
        threads=threads,
        threads_given=section.poller_threads is not None,
        memory_key="webApp.memoryMiB",
        memory_mib=web_app.memory_mib,
        memory_given=section.web_app.memory_mib is not None,
        reserved_mib=WEB_APP_MIN_OWN_MIB,
    )
    _refuse_unfit(container, catalogue, sizing)
    return threads, web_app


def endpoints_sizes(sizing: Sizing, catalogue: TaskCatalogue) -> tuple[EndpointsSize, WebAppSize]:
    """The endpoint service's and the web app's sizes in private-endpoints."""
    section = sizing.private_endpoints or PrivateEndpointsSizing()
    default = DEFAULT_ENDPOINTS
    endpoints = EndpointsSize(
        cpu=given(section.cpu, default.cpu),
        memory_mib=given(section.memory_mib, default.memory_mib),
        min_tasks=given(section.min_tasks, default.min_tasks),
        max_tasks=given(section.max_tasks, default.max_tasks),
        request_concurrency=given(section.request_concurrency, default.request_concurrency),
    )
    _refuse_inverted(endpoints.min_tasks, endpoints.max_tasks, "private-endpoints")
    container = _Container(
        section="private-endpoints",
        threads_key="requestConcurrency",
        threads=endpoints.request_concurrency,
        threads_given=section.request_concurrency is not None,
        memory_key="memoryMiB",
        memory_mib=endpoints.memory_mib,
        memory_given=section.memory_mib is not None,
    )
    _refuse_unfit(container, catalogue, sizing)
    return endpoints, _web_app(section.web_app, DEFAULT_WEB_APP, "private-endpoints.webApp")
