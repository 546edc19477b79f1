"""A sizing in one line, as every report and the ADR print it."""

from __future__ import annotations

from comparison.model.sizing import describe_sizing
from runtime.contract.sizing import (
    LambdasSizing,
    PrivateEndpointsSizing,
    TaskFunctionSizing,
    WebappPollerSizing,
    WebAppSizing,
    WorkerServiceSizing,
)


def test_a_worker_service_sizing_reads_as_tasks_size_and_threads() -> None:
    sizing = WorkerServiceSizing(
        max_tasks=12,
        cpu=1024,
        memory_mib=8192,
        worker_threads=8,
        acceptable_latency_seconds=300,
    )
    assert describe_sizing(sizing) == (
        "up to 12 tasks of 1 vCPU / 8 GiB, 8 threads each, scaling out past 300 s of backlog"
    )


def test_one_of_a_thing_is_singular() -> None:
    poller = WebappPollerSizing(
        poller_threads=1, web_app=WebAppSizing(cpu=1024, memory_mib=3072, max_tasks=1)
    )
    assert describe_sizing(poller) == (
        "1 poller thread in each web app task of 1 vCPU / 3 GiB, up to 1 task"
    )
    endpoints = PrivateEndpointsSizing(
        min_tasks=1, max_tasks=6, cpu=256, memory_mib=1024, request_concurrency=1
    )
    assert describe_sizing(endpoints) == (
        "1 to 6 tasks of 0.25 vCPU / 1 GiB, 1 request at once each"
    )


def test_a_field_left_unset_is_said_to_be_the_default_never_none() -> None:
    """A template's event source without MaximumConcurrency has no cap; a sizing file may
    leave any field to the template's or the catalogue's default."""
    sizings = (
        LambdasSizing(tasks={"generate-report": TaskFunctionSizing()}),
        WorkerServiceSizing(),
        WebappPollerSizing(),
        PrivateEndpointsSizing(),
    )
    lines = [describe_sizing(s) for s in sizings]
    assert lines[0] == "generate-report no concurrency cap, the default memory"
    for line in lines:
        assert "None" not in line, line
    assert "the default size" in lines[1] and "the default threads" in lines[1]
