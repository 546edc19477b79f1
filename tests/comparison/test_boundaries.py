"""Only the inputs and the model read templates: everything after them takes the typed model.

The pipeline is inputs -> model -> simulate -> cost -> decide -> render. A module past
the model that reads a resource's raw ``.properties``, or takes a ``StackTemplate`` or a
raw ``Resource``, re-reads the template and can drift from what the model says.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "comparison"
READERS = ("inputs", "model")
_RAW_TYPES = re.compile(r"\b(StackTemplate|Resource)\b")


def raw_template_reads(source: str) -> list[str]:
    """Where ``source`` reads ``.properties`` or takes a raw template type as a parameter."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "properties":
            found.append(f"line {node.lineno}: .properties")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            arguments = node.args
            every = [
                *arguments.posonlyargs,
                *arguments.args,
                *arguments.kwonlyargs,
                *(a for a in (arguments.vararg, arguments.kwarg) if a is not None),
            ]
            for argument in every:
                annotation = ast.unparse(argument.annotation) if argument.annotation else ""
                if _RAW_TYPES.search(annotation):
                    found.append(f"line {node.lineno}: parameter {argument.arg}: {annotation}")
    return found


def _modules_after_the_model() -> list[Path]:
    return sorted(
        path for path in PACKAGE.rglob("*.py") if path.relative_to(PACKAGE).parts[0] not in READERS
    )


def test_the_scan_covers_every_stage_after_the_model() -> None:
    stages = {p.relative_to(PACKAGE).parts[0] for p in _modules_after_the_model()}
    assert {"simulate", "cost", "decide", "render", "build.py", "cli.py"} <= stages


@pytest.mark.parametrize(
    "source",
    [
        "def f(r):\n    return r.properties.get('MemorySize')\n",
        "def f(template: StackTemplate) -> int:\n    return 0\n",
        "def f(*, template: 'StackTemplate | None' = None) -> int:\n    return 0\n",
        "def f(resource: Resource) -> int:\n    return 0\n",
        "def f(templates: Sequence[StackTemplate]) -> int:\n    return 0\n",
    ],
)
def test_the_scan_finds_a_raw_read(source: str) -> None:
    assert raw_template_reads(source)


def test_a_typed_model_parameter_is_not_a_raw_read() -> None:
    assert not raw_template_reads("def f(function: FunctionModel, r: ResourceModel) -> int: ...")


@pytest.mark.parametrize(
    "path", _modules_after_the_model(), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_no_module_after_the_model_reads_the_template(path: Path) -> None:
    found = raw_template_reads(path.read_text())
    assert not found, (
        f"{path.relative_to(PACKAGE.parent)} reads the template ({'; '.join(found)}); "
        "add the field to the typed model in comparison/model/ and read that instead"
    )


# The pipeline, in order: a stage imports only the stages before it (and the shared
# errors, progress and units modules), never one after it.
PIPELINE = ("inputs", "model", "simulate", "cost", "decide", "size", "build", "render", "cli")
SHARED = {"errors", "progress", "units"}


def _stage(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "comparison" or len(parts) < 2:
        return None
    return parts[1]


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_imports_run_one_way_along_the_pipeline(path: Path) -> None:
    here = _stage(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
    if here not in PIPELINE:
        return
    later = set(PIPELINE[PIPELINE.index(here) + 1 :])
    imported = {
        _stage(node.module)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not imported & later, f"{path.relative_to(PACKAGE.parent)} imports {imported & later}"
    assert not imported - set(PIPELINE) - SHARED - {None}
