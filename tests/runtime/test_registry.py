"""Handler registration: the catalogue's handlers plus deployer-named modules."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runtime.errors import ConfigurationError, UnknownTaskError
from runtime.registry import Registry, modules_from


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def _module(directory: Path, name: str, source: str) -> str:
    (directory / f"{name}.py").write_text(textwrap.dedent(source))
    return name


def test_catalogue_handlers_resolve_with_their_validators() -> None:
    spec = Registry().resolve("generate-report")
    assert spec.handle.__module__ == "runtime.tasks.reports.generate_report"
    assert spec.validate is not None
    assert spec.max_duration_seconds == 840


def test_every_catalogue_handler_imports() -> None:
    Registry().load_all()


def test_decorated_functions_in_a_named_module_are_registered(module_dir: Path) -> None:
    name = _module(
        module_dir,
        "webapp_tasks_decorated",
        """
        from runtime import register

        def check(payload):
            if "x" not in payload:
                raise ValueError("x is required")

        @register("export-csv", validator=check, max_duration_seconds=30)
        def export_csv(payload, context):
            return None
        """,
    )
    spec = Registry(modules=[name]).resolve("export-csv")
    assert spec.max_duration_seconds == 30
    assert spec.validate is not None


def test_a_handlers_mapping_is_not_a_registration(module_dir: Path) -> None:
    # One way to register: the decorator. A bare mapping registers nothing, loudly.
    name = _module(
        module_dir,
        "webapp_tasks_mapping",
        """
        def real_report(payload, context):
            return None

        HANDLERS = {"generate-report": real_report}
        """,
    )
    with pytest.raises(ConfigurationError, match=r"registers no task"):
        Registry(modules=[name])


def test_two_modules_registering_one_task_fail_at_start(module_dir: Path) -> None:
    source = (
        "from runtime import register\n"
        "@register('export-csv')\n"
        "def export(payload, context):\n"
        "    return None\n"
    )
    first = _module(module_dir, "dup_one", source)
    second = _module(module_dir, "dup_two", source)
    with pytest.raises(ConfigurationError, match=r"'export-csv' is registered by both"):
        Registry(modules=[first, second])


def test_a_module_that_registers_nothing_fails_at_start(module_dir: Path) -> None:
    name = _module(module_dir, "empty_tasks", "X = 1\n")
    with pytest.raises(ConfigurationError, match=r"registers no task"):
        Registry(modules=[name])


def test_a_missing_module_fails_with_the_variable_named() -> None:
    with pytest.raises(
        ConfigurationError, match=r"cannot import task module 'nope_missing'.*ASYNC_TASKS_MODULES"
    ):
        Registry(modules=["nope_missing"])


def test_unknown_task_error_lists_the_known_tasks() -> None:
    with pytest.raises(UnknownTaskError, match=r"no handler for task 'nope'.*generate-report"):
        Registry().resolve("nope")


def test_modules_come_from_the_variable_and_the_option_without_duplicates() -> None:
    environ = {"ASYNC_TASKS_MODULES": " a.tasks, b.tasks ,,"}
    assert modules_from(environ, ["b.tasks,c.tasks", "d"]) == ("a.tasks", "b.tasks", "c.tasks", "d")
