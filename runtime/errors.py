"""Typed exceptions of the task runtime.

Every error the runtime raises derives from :class:`TaskRuntimeError`. The class
attribute ``permanent`` tells consumers what to do with a failed message: a permanent
failure goes to the dead-letter queue at once with its reason; anything else is
retried with backoff until the queue's ``maxReceiveCount`` redrives it.
"""

from __future__ import annotations

from typing import ClassVar


class TaskRuntimeError(Exception):
    """Base class of every runtime error."""

    permanent: ClassVar[bool] = False


class ConfigurationError(TaskRuntimeError):
    """The deployment is misconfigured (a missing variable, a bad handler module)."""


class RoutingError(ConfigurationError):
    """The producer has no queue or endpoint configured for a task."""


class InvalidEnvelopeError(TaskRuntimeError, ValueError):
    """A message body is not a valid task envelope; retrying cannot fix it."""

    permanent = True


class EnvelopeTooLargeError(InvalidEnvelopeError):
    """An envelope exceeds the 256 KiB limit; raised at enqueue, never sent."""


class UnknownTaskError(TaskRuntimeError, LookupError):
    """No handler is registered for the envelope's task name."""

    permanent = True


class MisroutedTaskError(TaskRuntimeError):
    """A per-task consumer (a Lambda with ``TASK_NAME``) got another task's message."""

    permanent = True


class PayloadValidationError(TaskRuntimeError, ValueError):
    """The payload failed its task's validator. Validators raise this (or ValueError)."""

    permanent = True


class PermanentTaskError(TaskRuntimeError):
    """Raised by a handler to say that retrying cannot succeed: dead-letter now."""

    permanent = True


class TaskInProgressError(TaskRuntimeError):
    """Another consumer holds the idempotency lease for this envelope; try later."""

    def __init__(self, message: str, *, retry_after_seconds: float) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class EnqueueError(TaskRuntimeError):
    """The queue or endpoint refused an envelope, or a batch entry kept failing."""


def is_permanent(error: BaseException) -> bool:
    """Whether a failure should go straight to the DLQ instead of being retried."""
    return isinstance(error, TaskRuntimeError) and error.permanent
