"""The sizing file: each topology's capacity and sizes, as the stacks synthesize them.

``cdk synth -c sizing=<file>`` reads it (``stacks/settings.py``); the comparison writes
one per option, sized for a workload (``comparison/size``), and reads the synthesized
template back. One document holds one or all topologies; every field is optional and
an absent one keeps the stack's default. Keys are camelCase, as CDK context keys are::

    {
      "description": "sized for workload.toml by `compare --sizing-dir`",
      "chosen": "worker-service",
      "taskMemoryMiB": {"generate-report": 1024, "virus-scan-result": 256},
      "lambdas": {"tasks": {"generate-report": {"maxConcurrency": 4, "memoryMiB": 1024}}},
      "worker-service": {"maxTasks": 12, "cpu": 1024, "memoryMiB": 4096,
                         "workerThreads": 4, "acceptableLatencySeconds": 300,
                         "webApp": {"cpu": 1024, "memoryMiB": 2048, "minTasks": 2,
                                    "maxTasks": 4}},
      "webapp-poller": {"pollerThreads": 2, "webApp": {...}},
      "private-endpoints": {"minTasks": 1, "maxTasks": 4, "cpu": 512,
                            "memoryMiB": 4096, "requestConcurrency": 4, "webApp": {...}}
    }

:func:`parse_sizing` checks every value against AWS's limits and raises
:class:`SizingError` with one line naming the key, the value and the fix. Pure: the
standard library only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, TypeVar

from runtime.contract.fargate import FARGATE_CPU_UNITS, is_valid_size, memory_choices

__all__ = [
    "LAMBDA_CONCURRENCY_RANGE",
    "LAMBDA_MEMORY_RANGE",
    "MAX_SERVICE_TASKS",
    "MAX_THREADS",
    "TOPOLOGY_KEYS",
    "LambdasSizing",
    "PrivateEndpointsSizing",
    "Sizing",
    "SizingError",
    "TaskFunctionSizing",
    "WebAppSizing",
    "WebappPollerSizing",
    "WorkerServiceSizing",
    "load_sizing",
    "parse_sizing",
    "section_document",
    "sizing_document",
]

# An SQS event source's ScalingConfig.MaximumConcurrency ("Configuring maximum
# concurrency for Amazon SQS event sources") and a function's MemorySize.
LAMBDA_CONCURRENCY_RANGE: Final = (2, 1000)
LAMBDA_MEMORY_RANGE: Final = (128, 10_240)
# "Tasks per service" in "Amazon ECS service quotas": 5,000 by default (not checked
# offline; the quota page is not reachable here).
MAX_SERVICE_TASKS: Final = 5_000
# Concurrent task runs in one container: a bound of this project, not of AWS.
MAX_THREADS: Final = 64
# The backlog target's acceptable latency, in seconds: 10 s to a day.
LATENCY_RANGE: Final = (10.0, 86_400.0)


class SizingError(ValueError):
    """A sizing value is malformed; the message is one line naming key, value and fix."""


@dataclass(frozen=True, kw_only=True)
class TaskFunctionSizing:
    max_concurrency: int | None = None
    """The SQS event source's maximum concurrency (default: the catalogue's cap)."""
    memory_mib: int | None = None
    """The function's MemorySize (default: the catalogue's memory_mib)."""


@dataclass(frozen=True, kw_only=True)
class LambdasSizing:
    tasks: Mapping[str, TaskFunctionSizing] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class WebAppSizing:
    cpu: int | None = None
    memory_mib: int | None = None
    min_tasks: int | None = None
    max_tasks: int | None = None


@dataclass(frozen=True, kw_only=True)
class WorkerServiceSizing:
    max_tasks: int | None = None
    cpu: int | None = None
    memory_mib: int | None = None
    worker_threads: int | None = None
    acceptable_latency_seconds: float | None = None
    web_app: WebAppSizing = field(default_factory=WebAppSizing)


@dataclass(frozen=True, kw_only=True)
class WebappPollerSizing:
    poller_threads: int | None = None
    web_app: WebAppSizing = field(default_factory=WebAppSizing)


@dataclass(frozen=True, kw_only=True)
class PrivateEndpointsSizing:
    min_tasks: int | None = None
    max_tasks: int | None = None
    cpu: int | None = None
    memory_mib: int | None = None
    request_concurrency: int | None = None
    web_app: WebAppSizing = field(default_factory=WebAppSizing)


@dataclass(frozen=True, kw_only=True)
class Sizing:
    """The sizing of one or more topologies; None: the topology keeps its defaults."""

    lambdas: LambdasSizing | None = None
    worker_service: WorkerServiceSizing | None = None
    webapp_poller: WebappPollerSizing | None = None
    private_endpoints: PrivateEndpointsSizing | None = None
    task_memory_mib: Mapping[str, int] = field(default_factory=dict)
    """Memory one run of each task needs (default: the catalogue's memory_mib): every
    topology's Lambda MemorySize and the memory an ECS container holds per thread."""
    description: str | None = None
    chosen: str | None = None
    """The option a comparison chose, when it wrote this file (informational)."""


# JSON key -> dataclass field, per section. The order is the document's.
_KEYS: Final[Mapping[type, Mapping[str, str]]] = MappingProxyType(
    {
        TaskFunctionSizing: {"maxConcurrency": "max_concurrency", "memoryMiB": "memory_mib"},
        WebAppSizing: {
            "cpu": "cpu",
            "memoryMiB": "memory_mib",
            "minTasks": "min_tasks",
            "maxTasks": "max_tasks",
        },
        WorkerServiceSizing: {
            "maxTasks": "max_tasks",
            "cpu": "cpu",
            "memoryMiB": "memory_mib",
            "workerThreads": "worker_threads",
            "acceptableLatencySeconds": "acceptable_latency_seconds",
            "webApp": "web_app",
        },
        WebappPollerSizing: {"pollerThreads": "poller_threads", "webApp": "web_app"},
        PrivateEndpointsSizing: {
            "minTasks": "min_tasks",
            "maxTasks": "max_tasks",
            "cpu": "cpu",
            "memoryMiB": "memory_mib",
            "requestConcurrency": "request_concurrency",
            "webApp": "web_app",
        },
    }
)
TOPOLOGY_KEYS: Final = ("lambdas", "worker-service", "webapp-poller", "private-endpoints")
"""The document's topology sections: the topologies' names (``-c topology=``)."""
_TOPOLOGY_SECTIONS: Final = {
    "lambdas": "lambdas",
    "worker-service": "worker_service",
    "webapp-poller": "webapp_poller",
    "private-endpoints": "private_endpoints",
}


def _whole(low: int, high: int, what: str) -> Callable[[str, object], int]:
    def check(key: str, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise SizingError(
                f"sizing '{key}' is {json.dumps(value)}; use {what}, a whole number from "
                f"{low:,} to {high:,}"
            )
        return value

    return check


def _cpu(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in FARGATE_CPU_UNITS:
        raise SizingError(
            f"sizing '{key}' is {json.dumps(value)}; use Fargate CPU units, one of "
            f"{', '.join(str(c) for c in FARGATE_CPU_UNITS)}"
        )
    return value


def _seconds(key: str, value: object) -> float:
    low, high = LATENCY_RANGE
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise SizingError(
            f"sizing '{key}' is {json.dumps(value)}; use seconds from {low:g} to {high:g}"
        )
    return float(value)


_TASKS = _whole(1, MAX_SERVICE_TASKS, "tasks")
_THREADS = _whole(1, MAX_THREADS, "concurrent runs per task")
_CHECKS: Final[Mapping[str, Callable[[str, object], Any]]] = {
    "max_concurrency": _whole(*LAMBDA_CONCURRENCY_RANGE, "the event source's maximum concurrency"),
    "min_tasks": _TASKS,
    "max_tasks": _TASKS,
    "cpu": _cpu,
    "worker_threads": _THREADS,
    "poller_threads": _THREADS,
    "request_concurrency": _THREADS,
    "acceptable_latency_seconds": _seconds,
}
_LAMBDA_MEMORY = _whole(*LAMBDA_MEMORY_RANGE, "MiB of Lambda memory")
_FARGATE_MEMORY = _whole(512, 122_880, "MiB of Fargate task memory")

S = TypeVar("S")


def _section(kind: type[S], data: object, where: str) -> S:
    if not isinstance(data, Mapping):
        raise SizingError(f"sizing '{where}' is {json.dumps(data)}; use an object of settings")
    keys = _KEYS[kind]
    unknown = sorted(set(data) - set(keys))
    if unknown:
        raise SizingError(
            f"sizing '{where}.{unknown[0]}' is not a setting; use one of {', '.join(keys)}"
        )
    values: dict[str, Any] = {}
    for key, name in keys.items():
        if key not in data:
            continue
        path = f"{where}.{key}"
        if name == "web_app":
            values[name] = _section(WebAppSizing, data[key], path)
        elif name == "memory_mib":
            memory = _LAMBDA_MEMORY if kind is TaskFunctionSizing else _FARGATE_MEMORY
            values[name] = memory(path, data[key])
        else:
            values[name] = _CHECKS[name](path, data[key])
    section = kind(**values)
    _check_pair(section, where)
    _check_range(section, where)
    return section


def _check_pair(section: object, where: str) -> None:
    """A Fargate size is given whole (cpu and memoryMiB) and is one AWS offers."""
    if not isinstance(section, WebAppSizing | WorkerServiceSizing | PrivateEndpointsSizing):
        return
    cpu, memory = section.cpu, section.memory_mib
    if (cpu is None) != (memory is None):
        missing = "memoryMiB" if memory is None else "cpu"
        raise SizingError(f"sizing '{where}' sets one of cpu and memoryMiB; add '{missing}' too")
    if cpu is not None and memory is not None and not is_valid_size(cpu, memory):
        offered = memory_choices(cpu)
        raise SizingError(
            f"sizing '{where}' asks for {cpu} CPU units with {memory} MiB, which Fargate does "
            f"not offer; with {cpu} use {offered[0]}..{offered[-1]} MiB in the steps of "
            '"Amazon ECS task definition parameters for Fargate"'
        )


def _check_range(section: object, where: str) -> None:
    low, high = getattr(section, "min_tasks", None), getattr(section, "max_tasks", None)
    if low is not None and high is not None and high < low:
        raise SizingError(
            f"sizing '{where}.maxTasks' is {high}, below minTasks {low}; raise maxTasks"
        )


def parse_sizing(data: object) -> Sizing:
    """The sizing a JSON document describes; :class:`SizingError` on the first bad value."""
    if not isinstance(data, Mapping):
        raise SizingError(f"sizing is {json.dumps(data)[:60]}; use a JSON object of topologies")
    allowed = [*_TOPOLOGY_SECTIONS, "taskMemoryMiB", "description", "chosen"]
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise SizingError(f"sizing '{unknown[0]}' is not a topology; use {', '.join(allowed)}")
    values: dict[str, Any] = {}
    for key in ("description", "chosen"):
        if key in data:
            if not isinstance(data[key], str):
                raise SizingError(f"sizing '{key}' is {json.dumps(data[key])}; use a string")
            values[key] = data[key]
    if "chosen" in values and values["chosen"] not in _TOPOLOGY_SECTIONS:
        raise SizingError(
            f"sizing 'chosen' is '{values['chosen']}'; use one of {', '.join(_TOPOLOGY_SECTIONS)}"
        )
    if "taskMemoryMiB" in data:
        values["task_memory_mib"] = _task_memory(data["taskMemoryMiB"])
    if "lambdas" in data:
        values["lambdas"] = _lambdas(data["lambdas"])
    sections: dict[str, type] = {
        "worker-service": WorkerServiceSizing,
        "webapp-poller": WebappPollerSizing,
        "private-endpoints": PrivateEndpointsSizing,
    }
    for key, kind in sections.items():
        if key in data:
            values[_TOPOLOGY_SECTIONS[key]] = _section(kind, data[key], key)
    return Sizing(**values)


def _task_memory(data: object) -> dict[str, int]:
    if not isinstance(data, Mapping):
        raise SizingError(
            f"sizing 'taskMemoryMiB' is {json.dumps(data)[:60]}; use an object of task: MiB"
        )
    return {
        str(name): _LAMBDA_MEMORY(f"taskMemoryMiB.{name}", value) for name, value in data.items()
    }


def _lambdas(data: object) -> LambdasSizing:
    if not isinstance(data, Mapping) or set(data) - {"tasks"}:
        raise SizingError(
            f"sizing 'lambdas' is {json.dumps(data)[:60]}; use {{\"tasks\": {{<task>: {{...}}}}}}"
        )
    tasks = data.get("tasks", {})
    if not isinstance(tasks, Mapping):
        raise SizingError(f"sizing 'lambdas.tasks' is {json.dumps(tasks)[:60]}; use an object")
    return LambdasSizing(
        tasks={
            str(name): _section(TaskFunctionSizing, value, f"lambdas.tasks.{name}")
            for name, value in tasks.items()
        }
    )


def load_sizing(source: object) -> Sizing:
    """The sizing in a context value: a path to a JSON file, inline JSON, or an object
    (``cdk.json``'s context may hold one)."""
    if isinstance(source, Mapping):
        return parse_sizing(source)
    text = str(source).strip()
    if text.startswith("{"):
        where = "the inline JSON"
    else:
        path = Path(text)
        if not path.is_file():
            raise SizingError(
                f"context 'sizing' is '{text}', which is not a file; give the path of a "
                "sizing JSON file (compare writes them with --sizing-dir)"
            )
        where, text = str(path), path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SizingError(
            f"context 'sizing': {where} is not JSON ({error.msg} at line {error.lineno} "
            f"column {error.colno}); fix the file"
        ) from None
    return parse_sizing(data)


def section_document(section: object) -> dict[str, Any]:
    """The JSON object of one topology's section (what the document holds under its name)."""
    if isinstance(section, LambdasSizing):
        return {
            "tasks": {
                task: section_document(value) for task, value in sorted(section.tasks.items())
            }
        }
    keys = _KEYS[type(section)]
    document: dict[str, Any] = {}
    for key, name in keys.items():
        value = getattr(section, name)
        if isinstance(value, WebAppSizing):
            inner = section_document(value)
            if inner:
                document[key] = inner
        elif isinstance(value, float) and value.is_integer():
            document[key] = int(value)
        elif value is not None:
            document[key] = value
    return document


def sizing_document(sizing: Sizing) -> dict[str, Any]:
    """The JSON document of ``sizing``: :func:`parse_sizing` reads it back unchanged."""
    document: dict[str, Any] = {}
    if sizing.description is not None:
        document["description"] = sizing.description
    if sizing.chosen is not None:
        document["chosen"] = sizing.chosen
    if sizing.task_memory_mib:
        document["taskMemoryMiB"] = dict(sorted(sizing.task_memory_mib.items()))
    for key, name in _TOPOLOGY_SECTIONS.items():
        section = getattr(sizing, name)
        if section is None:
            continue
        document[key] = section_document(section)
    return document
