"""Shared fixtures: one synthesis of every topology per test session, and small stacks."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from aws_cdk import Stack

# aws_cdk is imported inside the fixtures: starting jsii costs seconds, and the
# runtime tests never need it.

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cdk_json_context() -> dict[str, Any]:
    """The feature flags from cdk.json, as the CDK CLI would pass them."""
    return dict(json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"])


@dataclass(frozen=True)
class SynthesizedApp:
    """Every topology, synthesized once: templates by stack id, and the assembly."""

    outdir: Path
    templates: dict[str, dict[str, Any]]
    stacks: dict[str, Stack]

    def template_path(self, stack_id: str) -> Path:
        return self.outdir / f"{stack_id}.template.json"


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    from stacks.topologies import add_topologies, new_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    app = new_app(context={**cdk_json_context(), "topology": "all"}, outdir=str(outdir))
    stacks = add_topologies(app)
    assembly = app.synth()
    templates = {artifact.stack_name: artifact.template for artifact in assembly.stacks}
    return SynthesizedApp(
        outdir=outdir,
        templates=templates,
        stacks={stack.stack_name: stack for stack in stacks},
    )


def empty_stack() -> Stack:
    """An empty stack ``Test`` in a fresh app, with the project's feature flags."""
    from aws_cdk import Stack

    from stacks.topologies import new_app

    app = new_app(context=cdk_json_context())
    return Stack(app, "Test")


@pytest.fixture
def stack() -> Iterator[Stack]:
    """An empty stack in a fresh app, with the project's feature flags."""
    yield empty_stack()


@pytest.fixture(scope="session")
def topology_ids() -> list[str]:
    from stacks.topologies import TOPOLOGIES

    return [topology.stack_id for topology in TOPOLOGIES.values()]


def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave the session's objects out of the collections run at interpreter exit.

    After a run the process holds some 850,000 objects (jsii proxies, moto's backends,
    botocore's models); the cyclic collections Python runs while it tears down the
    modules took ~2 s after the last report, on every run. The results are written by
    now; freezing only stops the collector from scanning what the OS frees anyway.
    """
    gc.freeze()
