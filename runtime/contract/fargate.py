"""Fargate task sizes and how many concurrent task runs a container holds.

The stacks refuse a size Fargate would refuse at deploy, and the comparison's sizing
search picks only from these sizes, so both call this module. Pure: the standard
library only.

The valid task CPU and memory combinations for Linux tasks are AWS's table in "Amazon
ECS task definition parameters for Fargate" (Task size) and "Troubleshoot Amazon ECS
task definition invalid CPU or memory errors"; RegisterTaskDefinition refuses any other
pair with "Invalid 'cpu' setting for task". 8 and 16 vCPU need platform 1.4.0 or later,
which is Fargate's LATEST.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

__all__ = [
    "CPU_UNITS_PER_VCPU",
    "FARGATE_CPU_UNITS",
    "MAX_TASK_MEMORY_MIB",
    "WEB_APP_MIN_OWN_MIB",
    "TaskSize",
    "cheapest_size",
    "is_valid_size",
    "memory_choices",
    "memory_for_runs",
    "runs_that_fit",
    "valid_sizes",
]

CPU_UNITS_PER_VCPU: Final = 1024
# What a web app container keeps for itself when it also runs poller threads: at least
# Fargate's smallest task memory (the stacks' rule; the comparison reserves the
# workload's own web app memory instead).
WEB_APP_MIN_OWN_MIB: Final = 512

# CPU units -> (lowest MiB, highest MiB, step MiB).
_MEMORY_RANGES: Final[dict[int, tuple[int, int, int]]] = {
    256: (512, 2048, 512),  # 512, 1024, 2048 (1536 is not offered)
    512: (1024, 4096, 1024),
    1024: (2048, 8192, 1024),
    2048: (4096, 16384, 1024),
    4096: (8192, 30720, 1024),
    8192: (16384, 61440, 4096),
    16384: (32768, 122880, 8192),
}
FARGATE_CPU_UNITS: Final = tuple(_MEMORY_RANGES)
MAX_TASK_MEMORY_MIB: Final = 122880


@dataclass(frozen=True, order=True)
class TaskSize:
    """A Fargate task size: CPU units (1024 = 1 vCPU) and memory in MiB."""

    cpu: int
    memory_mib: int

    @property
    def vcpu(self) -> float:
        return self.cpu / CPU_UNITS_PER_VCPU

    @property
    def memory_gb(self) -> float:
        return self.memory_mib / 1024

    def describe(self) -> str:
        return f"{self.vcpu:g} vCPU / {self.memory_gb:g} GiB"


def memory_choices(cpu: int) -> tuple[int, ...]:
    """The memory values (MiB) Fargate offers with ``cpu`` units; () for an invalid cpu."""
    if cpu not in _MEMORY_RANGES:
        return ()
    low, high, step = _MEMORY_RANGES[cpu]
    values = tuple(range(low, high + 1, step))
    return tuple(v for v in values if v != 1536) if cpu == 256 else values


def is_valid_size(cpu: int, memory_mib: int) -> bool:
    return memory_mib in memory_choices(cpu)


def valid_sizes() -> Iterator[TaskSize]:
    for cpu in FARGATE_CPU_UNITS:
        for memory in memory_choices(cpu):
            yield TaskSize(cpu, memory)


def cheapest_size(
    *, min_memory_mib: float, min_cpu: int = 0, vcpu_price: float = 1.0, gb_price: float = 0.11
) -> TaskSize | None:
    """The valid size with at least ``min_memory_mib`` and ``min_cpu`` units that costs
    least at the given hourly prices (by default Fargate's usual ratio of a GB-hour to
    a vCPU-hour, about 0.11); None when no size is large enough. Ties go to less CPU."""
    fitting = [
        size for size in valid_sizes() if size.memory_mib >= min_memory_mib and size.cpu >= min_cpu
    ]
    if not fitting:
        return None
    return min(fitting, key=lambda s: (s.vcpu * vcpu_price + s.memory_gb * gb_price, s))


def memory_for_runs(runs: int, run_memory_mib: int, *, reserved_mib: int = 0) -> int:
    """Memory a container needs to hold ``runs`` concurrent task runs of
    ``run_memory_mib`` each, besides ``reserved_mib`` for what else it runs."""
    return reserved_mib + runs * run_memory_mib


def runs_that_fit(memory_mib: int, run_memory_mib: int, *, reserved_mib: int = 0) -> int:
    """Concurrent task runs of ``run_memory_mib`` that ``memory_mib`` holds (0: none)."""
    if run_memory_mib <= 0:
        raise ValueError(f"run_memory_mib must be positive, got {run_memory_mib}")
    return max(0, (memory_mib - reserved_mib) // run_memory_mib)
