"""Runtime for ADR-0033 asynchronous tasks: ships in the Lambda zip and the container image.

Never import aws_cdk from here.

The public surface is imported lazily, so ``import runtime.catalogue`` (the CDK app
does) stays cheap and loads neither boto3 nor Powertools.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.context import TaskContext
    from runtime.envelope import Envelope
    from runtime.errors import (
        ConfigurationError,
        EnqueueError,
        EnvelopeTooLargeError,
        EventOnlyTaskError,
        HandlerExitError,
        InvalidEnvelopeError,
        LeaseLostError,
        MisroutedTaskError,
        PartialEnqueueError,
        PayloadValidationError,
        PermanentTaskError,
        RoutingError,
        TaskInProgressError,
        TaskRuntimeError,
        UnknownTaskError,
        UnsentPayload,
    )
    from runtime.poller import PollerHandle, run_poller, start_poller
    from runtime.producer import enqueue, enqueue_batch
    from runtime.registry import register

__all__ = [
    "ConfigurationError",
    "EnqueueError",
    "Envelope",
    "EnvelopeTooLargeError",
    "EventOnlyTaskError",
    "HandlerExitError",
    "InvalidEnvelopeError",
    "LeaseLostError",
    "MisroutedTaskError",
    "PartialEnqueueError",
    "PayloadValidationError",
    "PermanentTaskError",
    "PollerHandle",
    "RoutingError",
    "TaskContext",
    "TaskInProgressError",
    "TaskRuntimeError",
    "UnknownTaskError",
    "UnsentPayload",
    "enqueue",
    "enqueue_batch",
    "register",
    "run_poller",
    "start_poller",
]

_HOMES = {
    "TaskContext": "runtime.context",
    "Envelope": "runtime.envelope",
    "PollerHandle": "runtime.poller",
    "run_poller": "runtime.poller",
    "start_poller": "runtime.poller",
    "enqueue": "runtime.producer",
    "enqueue_batch": "runtime.producer",
    "register": "runtime.registry",
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'runtime' has no attribute '{name}'")
    module = importlib.import_module(_HOMES.get(name, "runtime.errors"))
    return getattr(module, name)
