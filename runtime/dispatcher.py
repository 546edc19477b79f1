"""Decode a message body, validate it, claim it in the ledger and run its handler.

``Dispatcher.dispatch`` never raises for a bad message: it returns a
:class:`DispatchResult` whose ``outcome`` tells the consumer what to do (delete,
dead-letter, or retry later), so the SQS worker, the poller and the Lambda handler
share one failure model.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from runtime.envelope import Envelope, decode
from runtime.errors import (
    MisroutedTaskError,
    PayloadValidationError,
    TaskInProgressError,
    is_permanent,
)
from runtime.idempotency import Claim, Ledger, ledger_from_env
from runtime.registry import Registry, TaskSpec

__all__ = ["DispatchResult", "Dispatcher", "Outcome", "TaskContext"]


class Outcome(enum.StrEnum):
    """What happened to one message; the values appear in the logs."""

    SUCCEEDED = "succeeded"
    DUPLICATE = "duplicate"
    RETRY = "retried"
    DEAD_LETTER = "dead-lettered"


@dataclass(frozen=True, kw_only=True)
class TaskContext:
    """What a handler knows about the delivery besides its payload."""

    task: str
    envelope_id: str
    idempotency_key: str
    attempt: int
    created_at: str
    trace: str | None
    _completion: Callable[[], dict[str, Any] | None]

    def ledger_completion(self) -> dict[str, Any] | None:
        """A ``TransactWriteItems`` entry marking this delivery done (None without a ledger).

        Add it to the transaction that writes the handler's effect, and the effect and
        the ledger commit together: a crash can then never apply the effect twice.
        """
        return self._completion()


@dataclass(frozen=True)
class DispatchResult:
    outcome: Outcome
    envelope: Envelope | None = None
    error: BaseException | None = None
    retry_after_seconds: float | None = None

    @property
    def reason(self) -> str:
        return "" if self.error is None else f"{type(self.error).__name__}: {self.error}"


class Dispatcher:
    """Runs one message. ``expected_task`` makes a per-task consumer refuse the others."""

    def __init__(
        self, registry: Registry, ledger: Ledger, *, expected_task: str | None = None
    ) -> None:
        self._registry = registry
        self._ledger = ledger
        self._expected_task = expected_task

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        tasks_modules: Iterable[str] = (),
        idempotency: bool = True,
        dynamodb: Any = None,
        expected_task: str | None = None,
    ) -> Dispatcher:
        """Registry and ledger as the environment configures them (see docs/runtime.md)."""
        env = os.environ if environ is None else environ
        registry = Registry.from_env(env, tasks_modules)
        if expected_task is None:
            registry.load_all()
        else:
            registry.resolve(expected_task)
        ledger = ledger_from_env(env, dynamodb=dynamodb, disabled=not idempotency)
        return cls(registry, ledger, expected_task=expected_task)

    def dispatch(self, body: str | bytes, *, attempt: int) -> DispatchResult:
        envelope: Envelope | None = None
        try:
            envelope = decode(body)
            spec = self._spec_for(envelope)
            return self._run(spec, envelope, attempt)
        except TaskInProgressError as error:
            return DispatchResult(Outcome.RETRY, envelope, error, error.retry_after_seconds)
        except Exception as error:
            outcome = Outcome.DEAD_LETTER if is_permanent(error) else Outcome.RETRY
            return DispatchResult(outcome, envelope, error)

    def _spec_for(self, envelope: Envelope) -> TaskSpec:
        task = envelope["task"]
        if self._expected_task is not None and task != self._expected_task:
            raise MisroutedTaskError(
                f"this consumer runs task '{self._expected_task}' only, got '{task}'; "
                "check the producer's routing variables"
            )
        spec = self._registry.resolve(task)
        if spec.validate is not None:
            try:
                spec.validate(envelope["payload"])
            except PayloadValidationError:
                raise
            except (ValueError, TypeError, KeyError) as error:
                raise PayloadValidationError(f"payload of task '{task}': {error}") from error
        return spec

    def _run(self, spec: TaskSpec, envelope: Envelope, attempt: int) -> DispatchResult:
        key = envelope.get("idempotency_key") or envelope["id"]
        claim = self._ledger.claim(spec.name, key, spec.max_duration_seconds)
        if claim.duplicate:
            return DispatchResult(Outcome.DUPLICATE, envelope)
        try:
            spec.handle(envelope["payload"], self._context(envelope, key, attempt, claim))
        except BaseException:
            # Free the key so a retry (or a redrive from the DLQ) runs the task again.
            _release_quietly(self._ledger, claim)
            raise
        self._ledger.complete(claim)
        return DispatchResult(Outcome.SUCCEEDED, envelope)

    def _context(self, envelope: Envelope, key: str, attempt: int, claim: Claim) -> TaskContext:
        return TaskContext(
            task=envelope["task"],
            envelope_id=envelope["id"],
            idempotency_key=key,
            attempt=attempt,
            created_at=envelope["created_at"],
            trace=envelope.get("trace"),
            _completion=lambda: self._ledger.completion_item(claim),
        )


def _release_quietly(ledger: Ledger, claim: Claim) -> None:
    try:
        ledger.release(claim)
    except Exception as error:
        from runtime._log import logger

        logger.warning(
            "could not release idempotency claim; it expires with its lease",
            extra={"key": claim.key, "error": str(error)},
        )
