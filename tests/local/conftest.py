"""One moto server and one synthesis for tests/local; each topology deployed once, lazily.

Package scope: the AWS variables pointing at the server are gone before other packages run.

Tests that change a stack's lifecycle (the migration) start their own server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from local.deploy import deploy
from local.emulator import MotoServer, aws_env
from local.model import LocalDeployment
from local.synth import synthesize


@pytest.fixture(scope="package")
def cloud_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every topology synthesized once, as local.deploy would (registry image, sender)."""
    return synthesize("all", tmp_path_factory.mktemp("local-cdk.out"))


@pytest.fixture(scope="package")
def emulator() -> Iterator[MotoServer]:
    with MotoServer() as server, pytest.MonkeyPatch.context() as patch:
        for name, value in aws_env(server.url).items():
            patch.setenv(name, value)
        yield server


@pytest.fixture(scope="package")
def deployed(emulator: MotoServer, cloud_assembly: Path) -> Callable[[str], LocalDeployment]:
    """``deployed(topology)``: the topology's stack in the shared emulator."""
    cache: dict[str, LocalDeployment] = {}

    def get(topology: str) -> LocalDeployment:
        if topology not in cache:
            cache[topology] = deploy(topology, emulator.url, cloud_assembly)
        return cache[topology]

    return get
