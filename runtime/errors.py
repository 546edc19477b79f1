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
    """The deployment is misconfigured (a missing variable, a bad handler module).

    Permanent: a retry runs against the same configuration, so a task that cannot run
    because of it goes to the DLQ at once, with the message naming the setting.
    """

    permanent = True


class RoutingError(ConfigurationError):
    """The producer has no queue or endpoint configured for a task."""


class InvalidEnvelopeError(TaskRuntimeError, ValueError):
    """A message body is not a valid task envelope; retrying cannot fix it."""

    permanent = True


class EnvelopeTooLargeError(InvalidEnvelopeError):
    """An envelope exceeds the smallest size limit on its path; raised at enqueue, never sent."""


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


class HandlerExitError(TaskRuntimeError):
    """A handler raised SystemExit, KeyboardInterrupt or another BaseException.

    Permanent: a handler must not end the process from a pool thread, and retrying it
    would only wedge the next worker the same way.
    """

    permanent = True


class LeaseLostError(TaskRuntimeError):
    """Another consumer took over the idempotency lease while this one was running."""


class TaskTimeoutError(TaskRuntimeError):
    """A handler ran past its task's maximum duration and was abandoned."""


class EnqueueError(TaskRuntimeError):
    """The queue or endpoint refused an envelope, or a batch entry kept failing."""


class PartialEnqueueError(EnqueueError):
    """Part of a batch was enqueued; the ids say which envelopes to send again.

    ``unknown`` are those of a call that failed in flight: SQS may or may not have
    them, so resend them with the same idempotency keys to stay exactly-once.
    """

    def __init__(
        self, message: str, *, sent: list[str], not_sent: list[str], unknown: list[str]
    ) -> None:
        super().__init__(message)
        self.sent = sent
        self.not_sent = not_sent
        self.unknown = unknown


class EventOnlyTaskError(TaskRuntimeError, PermissionError):
    """The producer refuses a task whose only triggers are AWS events."""

    permanent = True


def is_permanent(error: BaseException) -> bool:
    """Whether a failure should go straight to the DLQ instead of being retried."""
    return isinstance(error, TaskRuntimeError) and error.permanent


class UnavailableTaskError(ConfigurationError, PermissionError):
    """The producer refuses a task the deployed configuration cannot run (say, email
    without a sender), instead of accepting it and dead-lettering it later."""
