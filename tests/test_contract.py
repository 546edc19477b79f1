"""The contract between the infrastructure and the runtime, and the module boundaries.

- Synthesizing loads neither boto3 nor Powertools: the CDK app reaches the runtime only
  through ``runtime.catalogue`` and ``runtime.contract``, which import the standard
  library only.
- ``stacks/``, ``task_constructs/``, ``local/`` and ``comparison/`` import nothing else
  from ``runtime``; no module imports another package's underscore module.
- ``local/`` imports the comparison's inputs and model (its template reader) and nothing
  else of it; ``comparison/`` never imports ``local/``.
- What the templates set is what the contract names: every Lambda handler, container
  command, environment variable of ours, stack output and metadata role.
"""

from __future__ import annotations

import ast
import functools
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runtime.contract as contract
from runtime.contract import ResourceRole

ROOT = Path(__file__).resolve().parent.parent
INFRASTRUCTURE_AND_TOOLS = ("stacks", "task_constructs", "local", "comparison")
PRODUCTION = ("runtime", "stacks", "task_constructs", "local", "comparison")
ALLOWED_FROM_RUNTIME = ("runtime.catalogue", "runtime.contract")
# One way between the tools: the emulator reads templates with the comparison's reader
# and model; the comparison never imports the emulator.
ALLOWED_FROM_COMPARISON_IN_LOCAL = ("comparison.inputs", "comparison.model", "comparison.errors")
# Names AWS or Powertools define, which the templates set for them.
FOREIGN_ENV = {"POWERTOOLS_SERVICE_NAME", "AWS_NODEJS_CONNECTION_REUSE_ENABLED"}


def _loaded_after(statement: str) -> set[str]:
    """Top-level module names loaded by ``statement`` in a fresh interpreter."""
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return {name.split(".")[0] for name in result.stdout.split()}


@pytest.mark.slow  # a fresh interpreter that imports aws_cdk and starts jsii (~2.5 s)
def test_importing_the_cdk_app_loads_neither_boto3_nor_powertools() -> None:
    loaded = _loaded_after("import app")
    assert "aws_cdk" in loaded  # the import really built the app's module graph
    assert not loaded & {"boto3", "botocore", "aws_lambda_powertools"}


def test_the_contract_and_catalogue_import_the_standard_library_only() -> None:
    statement = (
        "import runtime.catalogue, runtime.contract, runtime.contract.backlog, "
        "runtime.contract.payload_limits, runtime.contract.retry_budget, "
        "runtime.contract.schedule_expression, runtime.contract.storage, "
        "runtime.contract.topology"
    )
    start_up = _loaded_after("pass")  # the interpreter's own (site, the editable finder)
    stdlib = set(sys.stdlib_module_names)
    loaded = _loaded_after(statement) - start_up
    third_party = {name for name in loaded - stdlib if not name.startswith("_sysconfigdata")}
    assert third_party == {"runtime"}


@functools.cache
def _parsed(path: Path) -> ast.Module:
    """Each file parsed once per session: three tests walk the same production modules."""
    return ast.parse(path.read_text(), str(path))


@functools.cache
def _walked(tree: ast.Module) -> tuple[ast.AST, ...]:
    """Every node of a parsed file, in ``ast.walk`` order, listed once per session."""
    return tuple(ast.walk(tree))


def _modules(packages: tuple[str, ...]) -> Iterator[tuple[str, ast.Module]]:
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            yield name.removesuffix(".__init__"), _parsed(path)


def _imported(module_name: str, tree: ast.Module) -> Iterator[str]:
    """Every module an import statement names, at any depth of the file."""
    package = module_name if module_name.count(".") == 0 else module_name.rsplit(".", 1)[0]
    for node in _walked(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1]])
                base = f"{base}.{node.module}" if node.module else base
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def test_infrastructure_and_tools_import_only_the_catalogue_and_the_contract() -> None:
    offending = sorted(
        f"{module} imports {name}"
        for module, tree in _modules(INFRASTRUCTURE_AND_TOOLS)
        for name in _imported(module, tree)
        if (name == "runtime" or name.startswith("runtime."))
        and name != "runtime"
        and not name.startswith(ALLOWED_FROM_RUNTIME)
    )
    assert offending == []


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(f"{package}.") for package in packages)


def test_local_imports_only_the_comparisons_inputs_and_model_and_never_the_reverse() -> None:
    offending = sorted(
        [
            f"{module} imports {name}"
            for module, tree in _modules(("local",))
            for name in _imported(module, tree)
            if _within(name, ("comparison",))
            and not _within(name, ALLOWED_FROM_COMPARISON_IN_LOCAL)
        ]
        + [
            f"{module} imports {name}"
            for module, tree in _modules(("comparison",))
            for name in _imported(module, tree)
            if _within(name, ("local",))
        ]
    )
    assert offending == []


def _is_private_module(parts: list[str]) -> bool:
    """``parts`` name a module (a file or a package in the project) whose name is
    private; an underscore function or constant imported from a module is not one."""
    name = parts[-1]
    if not name.startswith("_") or name.startswith("__"):
        return False
    path = ROOT.joinpath(*parts)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def test_no_module_imports_another_packages_underscore_module() -> None:
    project = set(PRODUCTION) | {"tests", "benchmarks"}
    offending = []
    for module, tree in _modules((*PRODUCTION, "tests", "benchmarks")):
        own_package = module.rsplit(".", 1)[0]
        for name in _imported(module, tree):
            parts = name.split(".")
            if parts[0] not in project:
                continue
            for depth in range(1, len(parts)):
                owner = ".".join(parts[:depth])
                if _is_private_module(parts[: depth + 1]) and owner != own_package:
                    offending.append(f"{module} imports {name}")
                    break
    assert sorted(set(offending)) == []


def test_every_entry_point_the_contract_names_resolves(monkeypatch) -> None:
    # The endpoint app is built on first access, from the environment the stack sets.
    monkeypatch.setenv(contract.IDEMPOTENCY_ENV, "disabled")
    for handler in (
        contract.TASK_HANDLER,
        contract.BACKLOG_METRIC_HANDLER,
        contract.INVOKER_HANDLER,
        contract.WAKER_HANDLER,
    ):
        module, _, function = handler.rpartition(".")
        assert callable(getattr(importlib.import_module(module), function))
    for app in (contract.WEBAPP_APP, contract.ENDPOINTS_APP):
        module, _, attribute = app.partition(":")
        assert callable(getattr(importlib.import_module(module), attribute))
    hooks = importlib.import_module(contract.POLLER_HOOKS_CONFIG.removeprefix("python:"))
    assert callable(hooks.when_ready)
    assert hasattr(importlib.import_module(contract.WORKER_MODULE), "main")


def _resources(templates: dict[str, dict[str, Any]], kind: str) -> Iterator[dict[str, Any]]:
    for template in templates.values():
        for resource in template["Resources"].values():
            if resource["Type"] == kind:
                yield resource


def _contract_names(suffix: str) -> set[str]:
    return {
        value
        for name, value in vars(contract).items()
        if name.endswith(suffix) and isinstance(value, str)
    }


@pytest.fixture(scope="module")
def templates(synthesized: Any) -> dict[str, dict[str, Any]]:
    return synthesized.templates  # type: ignore[no-any-return]


def test_every_lambda_handler_in_the_templates_is_a_contract_entry_point(templates) -> None:
    handlers = {
        resource["Properties"]["Handler"]
        for resource in _resources(templates, "AWS::Lambda::Function")
        if str(resource["Properties"].get("Handler", "")).startswith("runtime.")
    }
    assert handlers == {
        contract.TASK_HANDLER,
        contract.BACKLOG_METRIC_HANDLER,
        contract.INVOKER_HANDLER,
        contract.WAKER_HANDLER,
    }


def test_every_container_command_runs_a_contract_entry_point(templates) -> None:
    entry_points = {
        contract.WORKER_MODULE,
        contract.WEBAPP_APP,
        contract.ENDPOINTS_APP,
        contract.POLLER_HOOKS_CONFIG,
    }
    seen = set()
    for resource in _resources(templates, "AWS::ECS::TaskDefinition"):
        for container in resource["Properties"]["ContainerDefinitions"]:
            named = {arg for arg in container.get("Command", []) if "runtime." in arg}
            assert named <= entry_points, container["Name"]
            seen |= named
    # The web app with its default command runs WEBAPP_APP from the image (Dockerfile).
    assert seen >= entry_points - {contract.WEBAPP_APP}
    dockerfile = (ROOT / "container" / "Dockerfile").read_text()
    assert contract.WEBAPP_APP in dockerfile


def _our_environment_names(templates: dict[str, dict[str, Any]]) -> set[str]:
    names: set[str] = set()
    for resource in _resources(templates, "AWS::Lambda::Function"):
        names |= set(resource["Properties"].get("Environment", {}).get("Variables", {}))
    for resource in _resources(templates, "AWS::ECS::TaskDefinition"):
        for container in resource["Properties"]["ContainerDefinitions"]:
            names |= {variable["Name"] for variable in container.get("Environment", [])}
    return names - FOREIGN_ENV


def test_every_environment_variable_the_templates_set_is_a_contract_name(templates) -> None:
    per_task = {contract.queue_url_env_for(name) for name in _catalogue_names()}
    known = _contract_names("_ENV") | per_task
    names = _our_environment_names(templates)
    assert names - known == set()
    # The templates really use the contract: the table, the task name, the metric's and
    # the invoker's variables all appear.
    assert {
        contract.TABLE_ENV,
        contract.TASK_NAME_ENV,
        contract.METRIC_QUEUE_URL_ENV,
        contract.INVOKER_ENDPOINT_URL_ENV,
    } <= names


def _catalogue_names() -> list[str]:
    from runtime.catalogue import CATALOGUE

    return list(CATALOGUE)


def test_every_stack_output_is_a_contract_output_id(templates) -> None:
    known = _contract_names("_OUTPUT") | {
        contract.queue_url_output_for(name) for name in _catalogue_names()
    }
    outputs = {key for template in templates.values() for key in template.get("Outputs", {})}
    assert outputs - known == set()
    assert contract.TASK_TABLE_OUTPUT in outputs


def test_every_metadata_role_is_a_resource_role(templates) -> None:
    roles = {
        resource["Metadata"][contract.METADATA_KEY]["role"]
        for template in templates.values()
        for resource in template["Resources"].values()
        if contract.METADATA_KEY in resource.get("Metadata", {})
    }
    assert roles == {role.value for role in ResourceRole}


def test_the_envelope_the_templates_write_carries_the_contract_version(templates) -> None:
    versions = set()
    for resource in _resources(templates, "AWS::Scheduler::Schedule"):
        delivered = json.loads(resource["Properties"]["Target"]["Input"])
        if "task" in delivered:  # the waker's twins deliver a nudge, not an envelope
            versions.add(delivered["version"])
    assert versions == {contract.ENVELOPE_VERSION}


def test_the_per_task_queue_variable_rule() -> None:
    assert contract.queue_url_env_for("generate-report") == "ASYNC_TASKS_QUEUE_URL_GENERATE_REPORT"
    assert contract.queue_url_output_for("generate-report") == "QueueUrlGenerateReport"


def test_no_assert_in_production_code() -> None:
    # python -O strips asserts: a check production code relies on must raise.
    asserts = sorted(
        f"{module}:{node.lineno}"
        for module, tree in _modules(PRODUCTION)
        for node in _walked(tree)
        if isinstance(node, ast.Assert)
    )
    assert asserts == []


def test_each_topology_is_built_around_a_distinct_consumer_kind_the_comparison_knows() -> None:
    from comparison.model import routing
    from runtime.contract import topology

    # The comparison's kinds are the contract's, not a copy that could drift.
    assert routing.ConsumerKind is topology.ConsumerKind
    kinds = [identity.kind for identity in topology.TOPOLOGIES]
    assert sorted(kinds) == sorted(routing.ConsumerKind)


def test_topology_lookups_agree_with_the_table() -> None:
    from runtime.contract import topology

    for identity in topology.TOPOLOGIES:
        assert topology.BY_NAME[identity.name] is identity
        assert topology.BY_STACK_ID[identity.stack_id] is identity
        assert topology.from_stamp(topology.stamp(identity)) == identity
    assert topology.DEFAULT_TOPOLOGY in topology.BY_NAME


def test_a_malformed_topology_stamp_is_refused_with_what_is_wrong() -> None:
    from runtime.contract import topology

    stamp = topology.stamp(topology.TOPOLOGIES[0])
    with pytest.raises(ValueError, match=r"kind 'fargate'; expected one of"):
        topology.from_stamp({**stamp, "kind": "fargate"})
    with pytest.raises(ValueError, match=r"lacks string field\(s\) \['adrOption'\]"):
        topology.from_stamp({k: v for k, v in stamp.items() if k != "adrOption"})
