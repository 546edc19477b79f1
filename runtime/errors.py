"""Typed exceptions of the task runtime.

Every error the runtime raises derives from :class:`TaskRuntimeError`. The class
attribute ``permanent`` tells consumers what to do with a failed message: a permanent
failure goes to the dead-letter queue at once with its reason; anything else is
retried with backoff until the queue's ``maxReceiveCount`` redrives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal


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


class LedgerRejectedError(TaskRuntimeError):
    """DynamoDB refused the envelope's ledger item with a ValidationException.

    Permanent: the item is built from the envelope (its task and key), so every retry
    sends the same invalid request.
    """

    permanent = True


class TaskInProgressError(TaskRuntimeError):
    """Another consumer holds the idempotency lease for this envelope; try later."""

    def __init__(self, message: str, *, retry_after_seconds: float) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class TaskDeferredError(TaskRuntimeError):
    """A limit outside the task (a service's rate) refused it for now: retry later.

    Not a failed attempt: the retry waits ``retry_after_seconds`` and does not spend
    the task's retry budget. SQS still counts the receive, so the queue's
    ``maxReceiveCount`` remains the backstop.
    """

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


class ProcessEndedError(TaskRuntimeError):
    """Earlier attempts ended with their process (SIGKILL, a crash, the OOM killer).

    Nothing inside the process could report them: the next claim found the lease
    unrenewed and counted them (see ``runtime.idempotency``).
    """


class TaskTimeoutError(TaskRuntimeError):
    """A handler ran past its task's maximum duration and was abandoned."""


class EnqueueError(TaskRuntimeError):
    """The queue or endpoint refused an envelope, or a batch entry kept failing."""


@dataclass(frozen=True)
class UnsentPayload:
    """One payload of a failed ``enqueue_batch``: where it was in the caller's input.

    ``status`` is ``"not_sent"`` (SQS never got it) or ``"unknown"`` (its call failed in
    flight, so SQS may have it). Either way, resending it with its ``idempotency_key``
    runs it once; an ``unknown`` payload without a key may run twice if resent.
    """

    index: int
    idempotency_key: str | None
    envelope_id: str
    status: Literal["not_sent", "unknown"]


class PartialEnqueueError(EnqueueError):
    """Part of a batch was enqueued; ``failed`` names each payload to send again.

    ``failed`` lists, in input order, every payload not sent or unknown, with its index
    in the caller's input and its idempotency key (docs/runtime.md shows the resend).
    ``sent``, ``not_sent`` and ``unknown`` are the envelope ids of each kind.
    """

    def __init__(self, message: str, *, sent: list[str], failed: list[UnsentPayload]) -> None:
        super().__init__(message)
        self.failed = failed
        self.sent = sent
        self.not_sent = [p.envelope_id for p in failed if p.status == "not_sent"]
        self.unknown = [p.envelope_id for p in failed if p.status == "unknown"]


class EventOnlyTaskError(TaskRuntimeError, PermissionError):
    """The producer refuses a task whose only triggers are AWS events."""

    permanent = True


def is_permanent(error: BaseException) -> bool:
    """Whether a failure should go straight to the DLQ instead of being retried."""
    return isinstance(error, TaskRuntimeError) and error.permanent


class UnavailableTaskError(ConfigurationError, PermissionError):
    """The producer refuses a task the deployed configuration cannot run (say, email
    without a sender), instead of accepting it and dead-lettering it later."""
