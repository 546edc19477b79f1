"""The topology names and stack ids, read from stacks/topologies.py without importing it.

Importing ``stacks`` imports aws_cdk, which starts the CDK's JavaScript runtime (seconds);
``scripts/local-deploy --help`` or a mistyped topology must answer at once. The
``Topology("name", "stack-id", ...)`` calls in that module stay the one source of truth
(tests/local/test_local_deploy.py checks this reading against ``TOPOLOGIES``).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from functools import cache
from pathlib import Path

_SOURCE = Path(__file__).resolve().parent.parent / "stacks" / "topologies.py"


@cache
def stack_ids() -> Mapping[str, str]:
    """Topology name -> stack id, in declaration order."""
    tree = ast.parse(_SOURCE.read_text())
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "Topology"
            and len(node.args) >= 2
            and all(isinstance(arg, ast.Constant) for arg in node.args[:2])
        ):
            name, stack_id = (arg.value for arg in node.args[:2])  # type: ignore[attr-defined]
            found[str(name)] = str(stack_id)
    if not found:
        raise RuntimeError(f"no Topology(...) declarations found in {_SOURCE}")
    return found


def topology_names() -> list[str]:
    return sorted(stack_ids())
