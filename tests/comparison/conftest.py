"""Fixtures for the comparison tests: the default workload, price tables and templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from comparison.assumptions import DEFAULT_ASSUMPTIONS, Assumptions
from comparison.prices import PriceTable, known_regions, load_price_table
from comparison.templates import StackTemplate, load_templates
from comparison.workload import DEFAULT_WORKLOAD_PATH, Workload, load_workload
from tests.comparison.fixture_stacks import synthesize_fixtures
from tests.conftest import cdk_json_context


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
