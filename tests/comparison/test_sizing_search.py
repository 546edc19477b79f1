"""The sizing search (comparison/size/search.py) against a brute-force grid, across
volumes, and at the limits AWS sets.

AWS limits named here: Lambda's 15-minute timeout ("Configure Lambda function
timeout"), an SQS event source's maximum concurrency of 2..1,000 ("Configuring maximum
concurrency for Amazon SQS event sources"), the account's Lambda concurrency ("Lambda
quotas"), Fargate's task sizes ("Amazon ECS task definition parameters for Fargate") and
SES's maximum send rate ("Service quotas in Amazon SES").
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import pytest

from comparison.inputs.assumptions import Assumptions
from comparison.inputs.prices import PriceTable, known_regions
from comparison.inputs.scenario import Scenario
from comparison.inputs.workload import Workload, parse_workload
from comparison.model.topology import TopologyModel, topology_models
from comparison.size.search import SizedOption, Trials, size_topology
from runtime.contract.fargate import cheapest_size, is_valid_size
from runtime.contract.sizing import (
    LambdasSizing,
    TaskFunctionSizing,
    WebAppSizing,
    WorkerServiceSizing,
)

# A small case: two tasks with targets, few enough arrivals that a grid runs in seconds.
SMALL: dict[str, Any] = {
    "region": "eu-west-2",
    "tasks": {
        "virus-scan-result": {"volume_per_month": 3000, "pattern": "business-hours"},
        "generate-report": {
            "volume_per_month": 300,
            "burst_at": "09:00",
            "burst_minutes": 15,
            "burst_share": 0.7,
            "max_wait": 1200,
        },
    },
}


def _workload(data: dict[str, Any]) -> Workload:
    return parse_workload(data, known_regions=known_regions())


def _scenario(workload: Workload, london: PriceTable, assumptions: Assumptions) -> Scenario:
    return Scenario(workload=workload, prices=london, assumptions=assumptions)


@pytest.fixture(scope="module")
def small() -> Workload:
    return _workload(SMALL)


@pytest.fixture(scope="module")
def exact(assumptions: Assumptions) -> Assumptions:
    """No headroom: the sizing found is the least that meets, as the grid's is."""
    return replace(assumptions, sizing_headroom=1.0)


def _models(real_templates: Any, workload: Workload, assumptions: Assumptions) -> dict[str, Any]:
    return {
        m.label: m for m in topology_models(list(real_templates.values()), workload, assumptions)
    }


def _cost(option: SizedOption, scenario: Scenario) -> float:
    assert option.needed is not None
    return Trials(option.model, scenario)(option.needed).cost


def test_lambdas_search_finds_the_grids_cheapest_caps(
    real_templates: Any, small: Workload, london: PriceTable, exact: Assumptions
) -> None:
    scenario = _scenario(small, london, exact)
    model: TopologyModel = _models(real_templates, small, exact)["lambdas"]
    found = size_topology(model, scenario)
    trial = Trials(model, scenario)
    grid = []
    for report_cap, scan_cap in itertools.product(range(2, 9), range(2, 5)):
        caps = {"generate-report": report_cap, "virus-scan-result": scan_cap}
        sizing = LambdasSizing(
            tasks={
                name: TaskFunctionSizing(
                    max_concurrency=caps.get(name, 2), memory_mib=small.task(name).memory_mib
                )
                for name in found.stated.tasks  # type: ignore[union-attr]
            }
        )
        result = trial(sizing)
        if result.meets:
            grid.append((result.cost, report_cap, scan_cap))
    assert grid, "the grid holds a sizing that meets"
    cheapest = min(grid)
    assert found.meets and found.needed is not None
    assert _cost(found, scenario) == pytest.approx(cheapest[0], abs=0.01)
    needed = found.needed.tasks  # type: ignore[union-attr]
    # The least cap that meets generate-report's max_wait is the grid's least too.
    least_report = min(report for _, report, _ in grid)
    assert needed["generate-report"].max_concurrency == least_report


@pytest.mark.slow  # 120 trials, about 25 s
def test_worker_service_search_finds_the_grids_cheapest_sizing(
    real_templates: Any, small: Workload, london: PriceTable, exact: Assumptions
) -> None:
    scenario = _scenario(small, london, exact)
    model = _models(real_templates, small, exact)["worker-service"]
    found = size_topology(model, scenario)
    assert found.meets and isinstance(found.needed, WorkerServiceSizing)
    trial = Trials(model, scenario)
    memory = max(small.task(t.name).memory_mib for t in small.tasks)
    web = cheapest_size(min_memory_mib=2048, min_cpu=1024)
    assert web is not None
    web_app = found.needed.web_app
    grid = []
    for threads, latency, max_tasks in itertools.product(
        (1, 2, 4, 8, 16), (300.0, 120.0, 60.0, 30.0), range(1, 7)
    ):
        size = cheapest_size(min_memory_mib=threads * memory)
        assert size is not None and is_valid_size(size.cpu, size.memory_mib)
        sizing = WorkerServiceSizing(
            max_tasks=max_tasks,
            cpu=size.cpu,
            memory_mib=size.memory_mib,
            worker_threads=threads,
            acceptable_latency_seconds=latency,
            web_app=web_app,
        )
        result = trial(sizing)
        if result.meets:
            grid.append(result.cost)
    assert grid
    assert _cost(found, scenario) == pytest.approx(min(grid), abs=0.01)


@pytest.mark.parametrize("label", ["lambdas", "worker-service", "webapp-poller"])
def test_sized_cost_never_decreases_with_volume(
    real_templates: Any,
    small: Workload,
    london: PriceTable,
    assumptions: Assumptions,
    label: str,
) -> None:
    costs = []
    for factor in (0.5, 1.0, 2.0, 4.0):
        workload = small.scaled(factor)
        scenario = _scenario(workload, london, assumptions)
        model = _models(real_templates, workload, assumptions)[label]
        option = size_topology(model, scenario)
        assert option.meets, option.binding
        costs.append(Trials(model, scenario)(option.sizing).cost)  # type: ignore[arg-type]
    assert costs == sorted(costs), costs


def test_a_task_at_lambdas_15_minutes_names_that_limit(
    real_templates: Any, london: PriceTable, assumptions: Assumptions
) -> None:
    workload = _workload(
        {
            "region": "eu-west-2",
            "tasks": {"property-bulk-upload": {"volume_per_month": 100, "duration_seconds": 900}},
        }
    )
    model = _models(real_templates, workload, assumptions)["lambdas"]
    option = size_topology(model, _scenario(workload, london, assumptions))
    assert not option.meets and option.sizing is None
    assert option.binding == "property-bulk-upload runs 15.0 min, at Lambda's limit of 15.0 min"


def test_the_account_concurrency_binds_the_lambdas(
    real_templates: Any, small: Workload, london: PriceTable, assumptions: Assumptions
) -> None:
    tight = replace(assumptions, lambda_account_concurrency=3)
    model = _models(real_templates, small, tight)["lambdas"]
    option = size_topology(model, _scenario(small, london, tight))
    assert not option.meets
    assert option.binding is not None
    assert "over the account's Lambda concurrency of 3" in option.binding


def test_the_ses_send_rate_binds_every_option(
    real_templates: Any, london: PriceTable, assumptions: Assumptions
) -> None:
    """500 recipients a run at 14 a second: about 51,000 runs a month fill the rate."""
    workload = _workload(
        {
            "region": "eu-west-2",
            "tasks": {"send-bulk-email": {"volume_per_month": 100_000, "duration_seconds": 5}},
        }
    )
    scenario = _scenario(workload, london, assumptions)
    for label, model in _models(real_templates, workload, assumptions).items():
        option = size_topology(model, scenario)
        assert not option.meets, label
        assert option.binding is not None and "SES send rate (14 a second)" in option.binding


def test_a_wait_no_fleet_can_meet_names_the_task_and_its_target(
    real_templates: Any, london: PriceTable, assumptions: Assumptions
) -> None:
    """worker-service scales from zero: a 20 s max_wait on sparse work cannot be met, as
    the first task starts a minute or more after the first message."""
    workload = _workload(
        {
            "region": "eu-west-2",
            "tasks": {"virus-scan-result": {"volume_per_month": 300, "max_wait": 20}},
        }
    )
    model = _models(real_templates, workload, assumptions)["worker-service"]
    option = size_topology(model, _scenario(workload, london, assumptions))
    assert not option.meets
    assert option.binding is not None
    assert option.binding.startswith("virus-scan-result waits ")
    assert "over its max_wait of 20.0 s" in option.binding


def test_ecs_sizes_hold_their_threads_in_valid_fargate_sizes(
    real_templates: Any, small: Workload, london: PriceTable, assumptions: Assumptions
) -> None:
    scenario = _scenario(small, london, assumptions)
    memory = max(task.memory_mib for task in small.tasks)
    for label, model in _models(real_templates, small, assumptions).items():
        sizing = size_topology(model, scenario).sizing
        if isinstance(sizing, WorkerServiceSizing):
            assert sizing.cpu is not None and sizing.memory_mib is not None
            assert is_valid_size(sizing.cpu, sizing.memory_mib), label
            assert sizing.memory_mib >= (sizing.worker_threads or 1) * memory
        web = getattr(sizing, "web_app", None)
        if isinstance(web, WebAppSizing) and web.cpu is not None:
            assert web.memory_mib is not None and is_valid_size(web.cpu, web.memory_mib), label
