"""Run the runtime's Lambda entry points in this process, found as the templates name them.

``local/`` emulates what AWS runs. It finds the code through the template (a function's
``Handler``) and imports nothing from the runtime but the catalogue and the contract,
so the emulator runs exactly what the template would have Lambda run.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

LambdaHandler = Callable[[Any, Any], Any]


def lambda_handler(handler: str) -> LambdaHandler:
    """The function a Lambda ``Handler`` setting names (``package.module.function``)."""
    module_name, _, attribute = handler.rpartition(".")
    if not module_name:
        raise ValueError(f"Lambda handler '{handler}' must be 'package.module.function'")
    function = getattr(importlib.import_module(module_name), attribute, None)
    if not callable(function):
        raise LookupError(f"Lambda handler '{handler}': {module_name} has no '{attribute}'")
    return function  # type: ignore[no-any-return]


@contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """os.environ with ``values`` added, restored after: the handlers read os.environ.

    Only those keys change and are put back, so another thread never sees the rest of
    the environment (the emulator's endpoint, say) missing."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def invoke(handler: str, event: Any, environment: Mapping[str, str]) -> Any:
    """Call ``handler`` with ``event`` in the function's ``environment``, as Lambda would."""
    function = lambda_handler(handler)
    with patched_environ(environment):
        return function(event, None)
