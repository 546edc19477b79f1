"""Every resource the emulator skipped is checked on the template instead, and listed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from local.model import LocalDeployment
from stacks.topologies import TOPOLOGIES
from tests.local.skipped_checks import CHECKS

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("topology", sorted(TOPOLOGIES))
def test_every_resource_the_emulator_skips_passes_its_template_check(
    deployed: Callable[[str], LocalDeployment], topology: str
) -> None:
    # GIVEN the topology deployed into moto, and what moto did not create
    deployment = deployed(topology)
    skipped = deployment.stack.skipped
    template = deployment.template.document["Resources"]
    print(f"\n{deployment.stack.name}: {len(skipped)} resources skipped by moto")
    for resource in skipped:
        print(f"  {resource.type:48} {resource.logical_id}")

    # THEN each skipped type has a template check, and each skipped resource passes it
    unchecked = sorted({r.type for r in skipped} - set(CHECKS))
    assert not unchecked, f"skipped by moto with no template check: {unchecked}"
    for resource in skipped:
        CHECKS[resource.type](template, resource.logical_id)
    assert skipped, "moto skipped nothing: this list is stale, review local.adjust and docs"
