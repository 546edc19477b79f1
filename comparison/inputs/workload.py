"""The workload file (TOML): task volumes, arrival patterns, the web app and the region.

Fields a workload omits come from the task catalogue (duration, memory) or from the
defaults below. :func:`load_workload` reports every bad field at once.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from comparison.errors import WorkloadError
from comparison.inputs import patterns
from runtime.catalogue import CATALOGUE, TaskCatalogue
from runtime.contract.backlog import DEFAULT_ACCEPTABLE_LATENCY_SECONDS

DEFAULT_WORKLOAD_PATH = Path(__file__).resolve().parent / "workload.toml"
DEFAULT_PAYLOAD_KIB = 2.0
# SQS accepts messages up to 1 MiB.
MAX_PAYLOAD_KIB = 1024.0
DEFAULT_BURST_MINUTES = 10
DEFAULT_BURST_SHARE = 0.8
# python:3.13-slim plus the runtime's wheels, compressed as ECR stores it. An estimate:
# the image is not built here, so set ``image_mib`` from `docker image ls` when you can.
DEFAULT_IMAGE_MIB = 120.0


class Network(StrEnum):
    """Where task compute finds AWS APIs; one choice applies to every topology."""

    SHARED = "shared"
    """In the web app's VPC: its NAT gateway or endpoints are baseline; only the extra
    data processed is charged."""
    DEDICATED = "dedicated"
    """The option brings its own NAT gateway or endpoints, charged in full."""


@dataclass(frozen=True, kw_only=True)
class TaskLoad:
    """One task type's monthly load."""

    name: str
    volume_per_month: float
    duration_seconds: float
    memory_mib: int
    payload_kib: float
    profile: tuple[float, ...]
    """1440 per-minute shares of the daily volume, summing to 1."""

    pattern_label: str
    max_wait_seconds: float | None = None
    """The latency target: the longest acceptable p95 wait (enqueue to start), if stated."""

    def scaled(self, factor: float) -> TaskLoad:
        return replace(self, volume_per_month=self.volume_per_month * factor)

    def lengthened(self, factor: float) -> TaskLoad:
        return replace(self, duration_seconds=self.duration_seconds * factor)


@dataclass(frozen=True, kw_only=True)
class WebApp:
    """The web app's own baseline, present in every topology."""

    requests_per_second: float
    tasks: int
    vcpu: float
    memory_gib: float


@dataclass(frozen=True, kw_only=True)
class Workload:
    region: str
    tasks: tuple[TaskLoad, ...]
    webapp: WebApp
    acceptable_latency_seconds: float
    """Used for the worker-service target (latency / duration) when no template has one."""
    network: Network = Network.SHARED
    image_mib: float = DEFAULT_IMAGE_MIB
    """Compressed container image size: pulled on every Fargate task start."""

    @property
    def volume_per_month(self) -> float:
        return sum(task.volume_per_month for task in self.tasks)

    def task(self, name: str) -> TaskLoad:
        return next(task for task in self.tasks if task.name == name)

    def scaled(self, factor: float) -> Workload:
        """The same workload with every task's volume multiplied by ``factor``."""
        return replace(self, tasks=tuple(task.scaled(factor) for task in self.tasks))

    def lengthened(self, factor: float) -> Workload:
        """The same workload with every task's duration multiplied by ``factor``."""
        return replace(self, tasks=tuple(task.lengthened(factor) for task in self.tasks))

    @property
    def active_tasks(self) -> tuple[TaskLoad, ...]:
        """The task types the workload runs (volume above 0)."""
        return tuple(task for task in self.tasks if task.volume_per_month > 0)

    def with_region(self, region: str) -> Workload:
        return replace(self, region=region)

    def with_network(self, network: Network) -> Workload:
        return replace(self, network=network)


_WEBAPP_DEFAULTS = {"requests_per_second": 10.0, "tasks": 2, "vcpu": 1.0, "memory_gib": 2.0}
_TASK_FIELDS = {
    "volume_per_month",
    "duration_seconds",
    "memory_mib",
    "payload_kib",
    "pattern",
    "hourly_weights",
    "burst_at",
    "burst_minutes",
    "burst_share",
    "max_wait",
}
_TOP_FIELDS = {"region", "acceptable_latency_seconds", "network", "image_mib", "webapp", "tasks"}


def load_workload(
    path: Path,
    *,
    known_regions: frozenset[str],
    catalogue: TaskCatalogue = CATALOGUE,
) -> Workload:
    """Read and validate a workload file; raise :class:`WorkloadError` listing every problem."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as error:
        raise WorkloadError([f"{path}: no such file; pass --workload with a TOML file"]) from error
    except IsADirectoryError as error:
        raise WorkloadError(
            [f"{path}: is a directory; pass --workload with a TOML file"]
        ) from error
    except PermissionError as error:
        raise WorkloadError(
            [f"{path}: cannot be read (permission denied); make it readable or copy it"]
        ) from error
    except UnicodeDecodeError as error:
        raise WorkloadError([f"{path}: not UTF-8 text; a workload is a TOML file"]) from error
    except OSError as error:
        raise WorkloadError([f"{path}: cannot be read ({error.strerror or error})"]) from error
    except tomllib.TOMLDecodeError as error:
        raise WorkloadError([f"{path}: not valid TOML ({error})"]) from error
    return parse_workload(data, known_regions=known_regions, catalogue=catalogue)


def parse_workload(
    data: Mapping[str, Any],
    *,
    known_regions: frozenset[str],
    catalogue: TaskCatalogue = CATALOGUE,
) -> Workload:
    """Validate parsed TOML; see :func:`load_workload`."""
    problems: list[str] = []
    problems.extend(
        f"unknown field '{key}'; valid top-level fields: {', '.join(sorted(_TOP_FIELDS))}"
        for key in data
        if key not in _TOP_FIELDS
    )
    region = data.get("region", "eu-west-2")
    if region not in known_regions:
        problems.append(
            f"region is '{region}'; there is no price table for it. Use one of "
            f"{', '.join(sorted(known_regions))}, or add comparison/prices/{region}.json"
        )
    latency = _number(
        data,
        "acceptable_latency_seconds",
        DEFAULT_ACCEPTABLE_LATENCY_SECONDS,
        problems,
        "acceptable_latency_seconds",
        positive=True,
    )
    network = data.get("network", Network.SHARED.value)
    if network not in {n.value for n in Network}:
        problems.append(
            f'network is {network!r}; use "shared" (task compute in the web app\'s VPC) or '
            '"dedicated" (each option brings its own NAT gateway or endpoints)'
        )
        network = Network.SHARED.value
    image_mib = _number(data, "image_mib", DEFAULT_IMAGE_MIB, problems, "image_mib")
    webapp = _webapp(data.get("webapp", {}), problems)
    raw_tasks = data.get("tasks", {})
    tasks: list[TaskLoad] = []
    if not isinstance(raw_tasks, Mapping):
        problems.append("tasks must be a table of [tasks.<name>] sections")
        raw_tasks = {}
    for name in raw_tasks:
        if name not in catalogue:
            problems.append(
                f"tasks.{name}: unknown task '{name}'; the catalogue has "
                f"{', '.join(catalogue)}. Fix the name or add a catalogue entry"
            )
    for name, task_type in catalogue.items():
        raw = raw_tasks.get(name, {"volume_per_month": 0})
        task = _task(name, raw, task_type.expected_duration_seconds, task_type.memory_mib, problems)
        if task is not None:
            tasks.append(task)
    if not problems and not raw_tasks:
        problems.append(
            "no [tasks.<name>] section: a workload with no tasks cannot decide anything; "
            "add one, e.g. [tasks.generate-report] with volume_per_month = 900"
        )
    elif not problems and not any(task.volume_per_month > 0 for task in tasks):
        problems.append(
            "every task's volume_per_month is 0: a workload with no tasks cannot decide "
            "anything; give at least one task a volume_per_month above 0"
        )
    if problems:
        raise WorkloadError(problems)
    return Workload(
        region=str(region),
        tasks=tuple(tasks),
        webapp=webapp,
        acceptable_latency_seconds=latency,
        network=Network(network),
        image_mib=image_mib,
    )


def _number(
    table: Mapping[str, Any],
    key: str,
    default: float,
    problems: list[str],
    where: str,
    *,
    positive: bool = False,
) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(f"{where} is {value!r}; it must be a number")
        return default
    if value < 0 or (positive and value == 0):
        bound = "greater than 0" if positive else "0 or more"
        problems.append(f"{where} is {value}; it must be {bound}")
        return default
    return float(value)


def _webapp(raw: Any, problems: list[str]) -> WebApp:
    if not isinstance(raw, Mapping):
        problems.append("webapp must be a table ([webapp])")
        raw = {}
    problems.extend(
        f"webapp.{key}: unknown field; valid fields: {', '.join(_WEBAPP_DEFAULTS)}"
        for key in raw
        if key not in _WEBAPP_DEFAULTS
    )
    values = {
        key: _number(
            raw, key, default, problems, f"webapp.{key}", positive=key != "requests_per_second"
        )
        for key, default in _WEBAPP_DEFAULTS.items()
    }
    return WebApp(
        requests_per_second=values["requests_per_second"],
        tasks=int(values["tasks"]),
        vcpu=values["vcpu"],
        memory_gib=values["memory_gib"],
    )


def _task(
    name: str,
    raw: Any,
    catalogue_duration: float,
    catalogue_memory: int,
    problems: list[str],
) -> TaskLoad | None:
    where = f"tasks.{name}"
    if not isinstance(raw, Mapping):
        problems.append(f"{where} must be a table ([tasks.{name}])")
        return None
    problems.extend(
        f"{where}.{key}: unknown field; valid fields: {', '.join(sorted(_TASK_FIELDS))}"
        for key in raw
        if key not in _TASK_FIELDS
    )
    before = len(problems)
    volume = _number(raw, "volume_per_month", 0.0, problems, f"{where}.volume_per_month")
    duration = _number(
        raw,
        "duration_seconds",
        catalogue_duration,
        problems,
        f"{where}.duration_seconds",
        positive=True,
    )
    memory = _number(
        raw, "memory_mib", catalogue_memory, problems, f"{where}.memory_mib", positive=True
    )
    payload = _number(
        raw, "payload_kib", DEFAULT_PAYLOAD_KIB, problems, f"{where}.payload_kib", positive=True
    )
    if payload > MAX_PAYLOAD_KIB:
        problems.append(
            f"{where}.payload_kib is {payload:g}; SQS accepts at most {MAX_PAYLOAD_KIB:g} KiB. "
            "Put the data in S3 and send its key"
        )
    max_wait = None
    if "max_wait" in raw:
        max_wait = _number(raw, "max_wait", 0.0, problems, f"{where}.max_wait", positive=True)
    profile, label = _profile(raw, where, problems)
    if len(problems) > before or profile is None:
        return None
    return TaskLoad(
        name=name,
        volume_per_month=volume,
        duration_seconds=duration,
        memory_mib=int(memory),
        payload_kib=payload,
        profile=profile,
        pattern_label=label,
        max_wait_seconds=max_wait,
    )


def _profile(
    raw: Mapping[str, Any], where: str, problems: list[str]
) -> tuple[tuple[float, ...] | None, str]:
    given = [key for key in ("pattern", "hourly_weights", "burst_at") if key in raw]
    if len(given) > 1:
        problems.append(
            f"{where}: set one of pattern, hourly_weights and burst_at, not {', '.join(given)}"
        )
        return None, ""
    if "hourly_weights" in raw:
        return _hourly_profile(raw["hourly_weights"], where, problems)
    if "burst_at" in raw:
        return _burst_profile(raw, where, problems)
    name = raw.get("pattern", "uniform")
    if name not in patterns.NAMED_HOURLY:
        problems.append(
            f"{where}.pattern is {name!r}; use one of "
            f"{', '.join(patterns.NAMED_HOURLY)}, or set hourly_weights or burst_at"
        )
        return None, ""
    return patterns.from_hourly(patterns.NAMED_HOURLY[name]), str(name)


def _hourly_profile(
    weights: Any, where: str, problems: list[str]
) -> tuple[tuple[float, ...] | None, str]:
    field = f"{where}.hourly_weights"
    if not isinstance(weights, list) or len(weights) != 24:
        size = len(weights) if isinstance(weights, list) else "not a list"
        problems.append(f"{field} has {size} values; give 24, one per hour from 00:00")
        return None, ""
    bad = [w for w in weights if isinstance(w, bool) or not isinstance(w, int | float) or w < 0]
    if bad or sum(weights) <= 0:
        problems.append(
            f"{field} is {weights}; use 24 numbers, each 0 or more, with a positive sum"
        )
        return None, ""
    return patterns.from_hourly(tuple(float(w) for w in weights)), "hourly weights"


def _burst_profile(
    raw: Mapping[str, Any], where: str, problems: list[str]
) -> tuple[tuple[float, ...] | None, str]:
    start = patterns.parse_time_of_day(str(raw["burst_at"]))
    if start is None:
        problems.append(f'{where}.burst_at is {raw["burst_at"]!r}; use HH:MM, e.g. "09:00"')
    minutes = _number(
        raw,
        "burst_minutes",
        DEFAULT_BURST_MINUTES,
        problems,
        f"{where}.burst_minutes",
        positive=True,
    )
    share = _number(raw, "burst_share", DEFAULT_BURST_SHARE, problems, f"{where}.burst_share")
    if share > 1:
        problems.append(f"{where}.burst_share is {share:g}; it is a fraction, 0..1")
    if start is None or share > 1 or minutes > patterns.MINUTES_PER_DAY:
        return None, ""
    label = f"burst at {raw['burst_at']}"
    return patterns.burst(start, int(minutes), share), label
