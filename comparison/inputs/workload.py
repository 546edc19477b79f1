"""The workload file (TOML): task volumes, arrival patterns, the web app and the region.

Fields a workload omits come from the task catalogue (duration, memory) or from the
defaults below. :func:`load_workload` reports every bad field at once.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from comparison.errors import WorkloadError
from comparison.inputs import patterns
from comparison.inputs.assumptions import DAYS_PER_MONTH
from runtime.catalogue import CATALOGUE, MEMORY_MAX_MIB, MEMORY_MIN_MIB, TaskCatalogue, TaskType
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
# A Fargate task's ephemeral storage (20 GiB unless the task definition asks for more)
# holds the pulled image ("Fargate task ephemeral storage", Amazon ECS developer guide).
# image_mib is the compressed size; the uncompressed image is larger, by a ratio that
# cannot be checked offline, so this bound is the loosest one that is certainly right.
MAX_IMAGE_MIB = 20 * 1024.0
# The simulation runs every arrival of its period (at least one cycle of the calendars):
# about 35,000 a second on this machine for all four topologies, so above this many a
# comparison takes more than a few seconds. Refused rather than sampled: a sample of a
# queue's arrivals is a lighter load, not a smaller copy of it.
MAX_SIMULATED_ARRIVALS = 100_000


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
    calendar: tuple[bool, ...] = patterns.EVERY_DAY
    """The days it runs on, in a cycle whose first day is a Monday (see
    :mod:`comparison.inputs.patterns`); the month's volume is shared among them."""

    @property
    def volume_per_active_day(self) -> float:
        """The volume of one day it runs on: the month's volume over its days."""
        return self.volume_per_month / (DAYS_PER_MONTH * patterns.active_share(self.calendar))

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

    @property
    def cycle_days(self) -> int:
        """Days after which the running tasks' calendars repeat together (1: every day)."""
        return patterns.common_cycle(task.calendar for task in self.active_tasks)

    def longer_than(self, limits: Mapping[str, float]) -> tuple[TaskLoad, ...]:
        """The running tasks whose duration exceeds their limit in ``limits`` (seconds per
        task name, e.g. a template's Lambda timeouts); tasks not in ``limits`` pass."""
        return tuple(
            task
            for task in self.active_tasks
            if task.name in limits and task.duration_seconds > limits[task.name]
        )

    def reaching(self, limits: Mapping[str, float]) -> tuple[TaskLoad, ...]:
        """The running tasks whose duration reaches their limit in ``limits``: a run as
        long as a Lambda timeout is cut off as often as not, so it cannot run there."""
        return tuple(
            task
            for task in self.active_tasks
            if task.name in limits and task.duration_seconds >= limits[task.name]
        )

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
    "days",
    "every_days",
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
            f"{', '.join(sorted(known_regions))}, or add comparison/inputs/prices/{region}.json"
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
    if image_mib > MAX_IMAGE_MIB:
        problems.append(
            f"image_mib is {image_mib:g}; a Fargate task's 20 GiB of ephemeral storage must "
            f"hold the image. Give the compressed image size in MiB, at most {MAX_IMAGE_MIB:g}"
        )
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
        task = _task(name, raw, task_type, problems)
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
    problems.extend(_simulation_size(tasks) if not problems else [])
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
    if not math.isfinite(value):
        problems.append(f"{where} is {value}; it must be a finite number")
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


def simulated_arrivals(tasks: Sequence[TaskLoad]) -> tuple[float, int]:
    """(arrivals in the simulated period, its length in days): one whole cycle of the
    running tasks' calendars."""
    running = [task for task in tasks if task.volume_per_month > 0]
    cycle = patterns.common_cycle(task.calendar for task in running)
    return sum(task.volume_per_month for task in running) / DAYS_PER_MONTH * cycle, cycle


def _simulation_size(tasks: list[TaskLoad]) -> list[str]:
    """Refuse a workload whose simulated period holds more arrivals than run in seconds."""
    total = sum(task.volume_per_month for task in tasks)
    arrivals, cycle = simulated_arrivals(tasks)
    if arrivals <= MAX_SIMULATED_ARRIVALS:
        return []
    most = MAX_SIMULATED_ARRIVALS / cycle * DAYS_PER_MONTH
    return [
        f"volume_per_month totals {total:,.0f} tasks a month over the tasks; the simulation "
        f"runs each of the {arrivals:,.0f} arrivals of its {cycle}-day period and would take "
        f"minutes. Compare at most {most:,.0f} a month"
    ]


def _whole_in_range(
    value: float, where: str, low: float, high: float, problems: list[str], why: str
) -> None:
    if value != int(value) or not low <= value <= high:
        problems.append(f"{where} is {value:g}; {why}: a whole number from {low:g} to {high:g}")


def _task(
    name: str,
    raw: Any,
    task_type: TaskType,
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
        task_type.expected_duration_seconds,
        problems,
        f"{where}.duration_seconds",
        positive=True,
    )
    if duration > task_type.max_duration_seconds:
        problems.append(
            f"{where}.duration_seconds is {duration:g}; the catalogue's max_duration_seconds "
            f"for {name} is {task_type.max_duration_seconds} (its timeouts are sized from it). "
            "Lower it, or raise max_duration_seconds in runtime/catalogue.py and synthesize again"
        )
    memory = _number(
        raw, "memory_mib", task_type.memory_mib, problems, f"{where}.memory_mib", positive=True
    )
    # "Configure Lambda function memory", AWS Lambda developer guide (a bad value above
    # came back as the catalogue's, which passes).
    _whole_in_range(
        memory, f"{where}.memory_mib", MEMORY_MIN_MIB, MEMORY_MAX_MIB, problems, "Lambda takes"
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
    calendar, days_label = _calendar(raw, where, problems)
    if len(problems) > before or profile is None or calendar is None:
        return None
    return TaskLoad(
        name=name,
        volume_per_month=volume,
        duration_seconds=duration,
        memory_mib=int(memory),
        payload_kib=payload,
        profile=profile,
        pattern_label=label + days_label,
        max_wait_seconds=max_wait,
        calendar=calendar,
    )


def _calendar(
    raw: Mapping[str, Any], where: str, problems: list[str]
) -> tuple[tuple[bool, ...] | None, str]:
    """The days a task runs on: ``days`` (weekday names) or ``every_days``; else every day."""
    if "days" in raw and "every_days" in raw:
        problems.append(f"{where}: set one of days and every_days, not both")
        return None, ""
    if "every_days" in raw:
        every = _number(raw, "every_days", 1, problems, f"{where}.every_days", positive=True)
        before = len(problems)
        _whole_in_range(
            every, f"{where}.every_days", 1, patterns.MAX_CYCLE_DAYS, problems, "days between runs"
        )
        if len(problems) > before:
            return None, ""
        return patterns.every(int(every)), f", every {int(every)} days" if every > 1 else ""
    if "days" not in raw:
        return patterns.EVERY_DAY, ""
    days = raw["days"]
    if (
        not isinstance(days, list)
        or not days
        or any(day not in patterns.WEEKDAYS for day in days)
        or len(set(days)) != len(days)
    ):
        problems.append(
            f"{where}.days is {days!r}; give a list of distinct weekdays from "
            f'{", ".join(patterns.WEEKDAYS)}, e.g. days = ["mon"]'
        )
        return None, ""
    return patterns.weekly(days), f", on {' '.join(days)}"


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
    before = len(problems)
    minutes = _number(
        raw,
        "burst_minutes",
        DEFAULT_BURST_MINUTES,
        problems,
        f"{where}.burst_minutes",
        positive=True,
    )
    _whole_in_range(
        minutes,
        f"{where}.burst_minutes",
        1,
        patterns.MINUTES_PER_DAY,
        problems,
        "a burst lasts whole minutes within a day",
    )
    share = _number(raw, "burst_share", DEFAULT_BURST_SHARE, problems, f"{where}.burst_share")
    if share > 1:
        problems.append(f"{where}.burst_share is {share:g}; it is a fraction, 0..1")
    if start is None or len(problems) > before:
        return None, ""
    label = f"burst at {raw['burst_at']}"
    return patterns.burst(start, int(minutes), share), label
