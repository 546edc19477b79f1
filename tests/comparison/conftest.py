"""Fixtures for the comparison tests: the default workload, price tables and templates."""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from comparison.cost import estimate as report
from comparison.cost.estimate import Comparison, compare
from comparison.inputs.assumptions import DEFAULT_ASSUMPTIONS, Assumptions
from comparison.inputs.prices import PriceTable, known_regions, load_price_table
from comparison.inputs.scenario import Scenario
from comparison.inputs.templates import StackTemplate, load_templates
from comparison.inputs.workload import DEFAULT_WORKLOAD_PATH, Workload, load_workload
from comparison.model.topology import TopologyModel, topology_models
from comparison.simulate import latency
from tests.comparison.fixture_stacks import synthesize_fixtures
from tests.conftest import cdk_json_context


@pytest.fixture(scope="session", autouse=True)
def _each_simulation_runs_once() -> Iterator[None]:
    """Simulate each (topology, workload, assumptions) once per session.

    ``run_consumers`` (the consumer simulation behind every cost and latency) is a
    deterministic function of its arguments and most of a comparison's time, and many
    tests simulate the same topology under the same workload (the CLI's formats, the
    ADR, the invariants). Results are keyed by the pickled arguments and handed out as
    fresh copies, so no test sees another's objects; any other argument simulates anew.
    """
    original = latency.run_consumers  # what comparison.cost.estimate imports and calls
    results: dict[bytes, bytes] = {}

    def run_consumers(*args: Any, **kwargs: Any) -> Any:
        # A scenario's memo of arrivals is a cache, not an input: leave it out of the key.
        plain = tuple(replace(a, memo={}) if isinstance(a, Scenario) else a for a in args)
        key = hashlib.sha256(pickle.dumps((plain, sorted(kwargs.items())))).digest()
        if key not in results:
            results[key] = pickle.dumps(original(*args, **kwargs))
        return pickle.loads(results[key])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(report, "run_consumers", run_consumers)
        yield


@pytest.fixture(scope="session")
def workload() -> Workload:
    return load_workload(DEFAULT_WORKLOAD_PATH, known_regions=known_regions())


@pytest.fixture(scope="session")
def london() -> PriceTable:
    return load_price_table("eu-west-2")


@pytest.fixture(scope="session")
def assumptions() -> Assumptions:
    return DEFAULT_ASSUMPTIONS


@pytest.fixture(scope="session")
def fixture_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cloud assembly of the ECS fixture stacks (see fixture_stacks.py), synthesized once."""
    outdir = tmp_path_factory.mktemp("fixture.out")
    synthesize_fixtures(str(outdir), cdk_json_context())
    return outdir


@pytest.fixture(scope="session")
def fixture_templates(fixture_out: Path) -> dict[str, StackTemplate]:
    return {t.stack_id: t for t in load_templates(fixture_out)}


@pytest.fixture(scope="session")
def real_templates(synthesized) -> dict[str, StackTemplate]:  # type: ignore[no-untyped-def]
    """The project's own topologies, synthesized once per session by tests/conftest.py."""
    return {t.label: t for t in load_templates(synthesized.outdir)}


@pytest.fixture(scope="session")
def fixture_models(
    fixture_templates: dict[str, StackTemplate], workload: Workload, assumptions: Assumptions
) -> dict[str, TopologyModel]:
    """The fixture stacks read into topology models for the shipped workload's tasks."""
    models = topology_models(list(fixture_templates.values()), workload, assumptions)
    return {m.stack_id: m for m in models}


@pytest.fixture(scope="session")
def real_models(
    real_templates: dict[str, StackTemplate], workload: Workload, assumptions: Assumptions
) -> dict[str, TopologyModel]:
    """The project's topologies read into models for the shipped workload's tasks."""
    models = topology_models(list(real_templates.values()), workload, assumptions)
    return {m.label: m for m in models}


@pytest.fixture(scope="session")
def shipped_comparison(
    real_models: dict[str, TopologyModel],
    workload: Workload,
    london: PriceTable,
    assumptions: Assumptions,
) -> Comparison:
    """The real topologies under the shipped workload in London, without the free tier.

    compare() simulates every consumer (~0.8 s) and is deterministic, so the tests that
    read this one comparison share it instead of each recomputing it.
    """
    return compare(
        list(real_models.values()),
        Scenario(workload=workload, prices=london, assumptions=assumptions, free_tier=False),
    )
