"""Which function handles which task: the catalogue's handlers plus deployer-named modules.

Handlers come two ways, and only two: the catalogue's entries (``TaskType.handler``)
and modules the deployer names. A web-app team adds handlers without editing this
package: it names its module in ``ASYNC_TASKS_MODULES`` (or ``--tasks-module``) and, in
that module, decorates functions with :func:`register`::

    from runtime import register

    def check(payload): ...           # raise PayloadValidationError / ValueError

    @register("generate-report", validator=check)
    def generate_report(payload, context): ...

A module's registration of a catalogue task replaces the catalogue's handler, which
is how real handlers take over from the stand-ins in ``runtime.tasks``.

``register`` only marks the function; the registry scans the named modules, so no
process-wide mutable registry exists.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

from runtime.catalogue import CATALOGUE, TaskCatalogue
from runtime.context import TaskContext
from runtime.contract import MODULES_ENV
from runtime.errors import ConfigurationError, UnknownTaskError

__all__ = [
    "MODULES_ENV",
    "Handler",
    "Registry",
    "TaskSpec",
    "Validator",
    "modules_from",
    "register",
]

# Lease for tasks outside the catalogue when their registration names no maximum.
DEFAULT_MAX_DURATION_SECONDS = 900
# Failed handler attempts before the dead-letter, for tasks outside the catalogue.
DEFAULT_MAX_ATTEMPTS = 5
_MARK = "__async_task__"

Handler = Callable[[Mapping[str, Any], TaskContext], object]
Validator = Callable[[Mapping[str, Any]], object]
_F = TypeVar("_F", bound=Callable[..., object])


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """One registered task: its handler, optional validator and time limit."""

    name: str
    handle: Handler
    validate: Validator | None = None
    max_duration_seconds: int = DEFAULT_MAX_DURATION_SECONDS
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    source: str = ""


def register(
    name: str,
    *,
    validator: Validator | None = None,
    max_duration_seconds: int | None = None,
) -> Callable[[_F], _F]:
    """Mark a function as the handler of task ``name`` (see the module docstring).

    ``max_duration_seconds`` bounds the idempotency lease; it defaults to the
    catalogue's value for a catalogue task, else 900 s.
    """

    def mark(function: _F) -> _F:
        setattr(function, _MARK, (name, validator, max_duration_seconds))
        return function

    return mark


def modules_from(environ: Mapping[str, str], extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Module names from ``ASYNC_TASKS_MODULES`` (comma-separated) and ``extra``."""
    names = [*environ.get(MODULES_ENV, "").split(","), *extra]
    flat = [part.strip() for name in names for part in name.split(",")]
    return tuple(dict.fromkeys(name for name in flat if name))


class Registry:
    """Task name to :class:`TaskSpec`.

    Extra modules are imported at construction, so a bad module fails at start-up.
    Catalogue handlers are imported on first use (a Lambda imports only its own) or
    all at once with :meth:`load_all`.
    """

    def __init__(
        self,
        *,
        modules: Iterable[str] = (),
        catalogue: TaskCatalogue = CATALOGUE,
    ) -> None:
        self._catalogue = catalogue
        self._extra: dict[str, TaskSpec] = {}
        for module_name in modules:
            for spec in _specs_in(_import(module_name), catalogue):
                if spec.name in self._extra:
                    raise ConfigurationError(
                        f"task '{spec.name}' is registered by both "
                        f"{self._extra[spec.name].source} and {spec.source}; keep one"
                    )
                self._extra[spec.name] = spec
        self._loaded: dict[str, TaskSpec] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, extra_modules: Iterable[str] = ()
    ) -> Registry:
        return cls(modules=modules_from(os.environ if environ is None else environ, extra_modules))

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._catalogue) | frozenset(self._extra)

    def __contains__(self, name: object) -> bool:
        return name in self._extra or name in self._catalogue

    def resolve(self, name: str) -> TaskSpec:
        """The spec for ``name``; raises UnknownTaskError naming the known tasks."""
        if name in self._extra:
            return self._extra[name]
        if name not in self._catalogue:
            raise UnknownTaskError(
                f"no handler for task '{name}'; known tasks: {sorted(self.names)}. "
                f"Add it to the catalogue or register it in a module named in {MODULES_ENV}"
            )
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = _catalogue_spec(self._catalogue, name)
            return self._loaded[name]

    def load_all(self) -> None:
        """Import every handler now, so a broken one stops start-up, not a message."""
        for name in self.names:
            self.resolve(name)


def _import(module_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigurationError(
            f"cannot import task module '{module_name}' (from {MODULES_ENV} or "
            f"--tasks-module): {error}"
        ) from error


def _specs_in(module: ModuleType, catalogue: TaskCatalogue) -> list[TaskSpec]:
    where = f"module '{module.__name__}'"
    specs: list[TaskSpec] = []
    for attribute in vars(module).values():
        mark = getattr(attribute, _MARK, None)
        if callable(attribute) and isinstance(mark, tuple):
            name, validator, max_duration = mark
            specs.append(_spec(name, attribute, validator, max_duration, catalogue, where))
    if not specs:
        raise ConfigurationError(
            f"{where} registers no task; decorate handlers with @runtime.register(name)"
        )
    return specs


def _spec(
    name: str,
    handle: Handler,
    validate: Validator | None,
    max_duration: int | None,
    catalogue: TaskCatalogue,
    source: str,
) -> TaskSpec:
    if not callable(handle) or (validate is not None and not callable(validate)):
        raise ConfigurationError(
            f"{source}: the handler and validator of '{name}' must be callable"
        )
    if max_duration is None:
        max_duration = (
            catalogue[name].max_duration_seconds
            if name in catalogue
            else DEFAULT_MAX_DURATION_SECONDS
        )
    return TaskSpec(
        name=name,
        handle=handle,
        validate=validate,
        max_duration_seconds=max_duration,
        max_attempts=(
            catalogue[name].max_receive_count if name in catalogue else DEFAULT_MAX_ATTEMPTS
        ),
        source=source,
    )


def _catalogue_spec(catalogue: TaskCatalogue, name: str) -> TaskSpec:
    task = catalogue[name]
    module_name, _, function_name = task.handler.partition(":")
    module = _import(module_name)
    handle = getattr(module, function_name, None)
    if handle is None:
        raise ConfigurationError(
            f"task '{name}': module '{module_name}' has no '{function_name}' (catalogue "
            f"handler '{task.handler}')"
        )
    return _spec(
        name,
        handle,
        getattr(module, "validate_payload", None),
        task.max_duration_seconds,
        catalogue,
        f"catalogue handler '{task.handler}'",
    )
