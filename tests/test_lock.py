"""One lock file: ``requirements.lock`` holds every transitive Python pin, and
``container/requirements.txt`` is its generated subset (``scripts/lock``,
``scripts/lockfile.py``). All offline: the files are only read, nothing is resolved."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from types import ModuleType

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _load_lockfile() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "lockfile", PROJECT_ROOT / "scripts" / "lockfile.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # the dataclass looks its module up
    spec.loader.exec_module(module)
    return module


lockfile = _load_lockfile()
PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
LOCK_TEXT = lockfile.LOCK.read_text()
LOCK = lockfile.parse_lock(LOCK_TEXT)
CONTAINER = lockfile.parse_lock(lockfile.CONTAINER_REQUIREMENTS.read_text())


def _direct_pins() -> dict[str, str]:
    project = PYPROJECT["project"]
    pins: dict[str, str] = {}
    for line in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{line}: pyproject.toml pins exactly"
        pins[canonicalize_name(requirement.name)] = specifier.version
    return pins


def test_container_requirements_are_generated_from_the_lock() -> None:
    """container/requirements.txt is exactly what ``scripts/lock --container`` writes
    from the lock now: same packages, versions, hashes and header."""
    expected = lockfile.container_requirements(LOCK_TEXT)
    assert lockfile.CONTAINER_REQUIREMENTS.read_text() == expected, (
        "container/requirements.txt is stale: run scripts/lock --container"
    )


def test_every_direct_pin_in_pyproject_is_the_locks_version() -> None:
    """Each ``dependencies`` and ``dev`` pin of pyproject.toml is in the lock at that
    exact version, so installing the lock installs what pyproject.toml says."""
    differ = {
        name: (version, LOCK[name].version if name in LOCK else "missing")
        for name, version in _direct_pins().items()
        if name not in LOCK or LOCK[name].version != version
    }
    assert not differ, f"pyproject.toml against the lock: {differ}; run scripts/lock"


def test_every_lock_pin_is_hashed() -> None:
    """Every lock entry carries hashes, so ``pip install --require-hashes`` accepts it."""
    unhashed = [pin.name for pin in LOCK.values() if "--hash=sha256:" not in "".join(pin.lines)]
    assert not unhashed


def test_the_container_runs_the_runtime_libraries_at_pyprojects_versions() -> None:
    """The image's boto3, aws-lambda-powertools, flask and gunicorn are the versions
    pyproject.toml pins (the ones the tests ran against)."""
    pins = _direct_pins()
    for name in lockfile.CONTAINER_ROOTS:
        assert name in CONTAINER, f"{name} is not in container/requirements.txt"
        assert CONTAINER[name].version == pins[name], name


def test_the_container_subset_is_what_the_four_packages_need_installed() -> None:
    """The closure over the lock's ``# via`` annotations equals the closure over the
    installed packages' own metadata (``Requires-Dist`` without extras): the subset
    holds nothing the four do not need and lacks nothing they do, on this Python."""
    needed: set[str] = set()
    todo = list(lockfile.CONTAINER_ROOTS)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in needed:
            continue
        needed.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    assert set(CONTAINER) == needed


def test_the_container_python_is_the_dockerfiles() -> None:
    """The Python the generator checks the container's wheels for is the image's."""
    dockerfile = (PROJECT_ROOT / "container" / "Dockerfile").read_text()
    assert f"FROM python:{lockfile.CONTAINER_PYTHON}-slim" in dockerfile


def test_checkov_stays_outside_the_lock() -> None:
    """checkov has its own venv (scripts/setup), and the lock's header says why."""
    assert "checkov" not in LOCK
    header = LOCK_TEXT.split("\n" + next(iter(LOCK.values())).lines[0], 1)[0]
    assert "checkov" in header and "clash" in header
