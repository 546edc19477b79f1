"""Decode a message body, validate it, claim it in the ledger and run its handler.

``Dispatcher.dispatch`` never raises for a bad message: it returns a
:class:`DispatchResult` whose ``outcome`` tells the consumer what to do (delete,
dead-letter, or retry later), so the SQS worker, the poller and the Lambda handler
share one failure model.
"""

from __future__ import annotations

import enum
import functools
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from runtime.context import TaskContext
from runtime.contract.retry_budget import budget_exhausted
from runtime.envelope import Envelope, decode
from runtime.errors import (
    HandlerExitError,
    LeaseLostError,
    LedgerRejectedError,
    MisroutedTaskError,
    PayloadValidationError,
    ProcessEndedError,
    TaskDeferredError,
    TaskInProgressError,
    is_permanent,
)
from runtime.idempotency import Claim, Ledger, ledger_from_env, task_lease_seconds
from runtime.log import logger
from runtime.registry import Registry, TaskSpec

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

__all__ = ["DispatchResult", "Dispatcher", "Outcome"]


class Outcome(enum.StrEnum):
    """What happened to one message; the values appear in the logs."""

    SUCCEEDED = "succeeded"
    DUPLICATE = "duplicate"
    RETRY = "retried"
    DEAD_LETTER = "dead-lettered"


@dataclass(frozen=True)
class DispatchResult:
    outcome: Outcome
    envelope: Envelope | None = None
    error: BaseException | None = None
    retry_after_seconds: float | None = None
    note: str = ""

    @property
    def reason(self) -> str:
        if self.error is None:
            return self.note
        text = f"{type(self.error).__name__}: {self.error}"
        return f"{text} ({self.note})" if self.note else text


# Learns the claim before the handler starts; False defers the attempt (the handler
# does not run, the claim is released without counting a failure).
OnClaim = Callable[[Claim, TaskSpec], bool]
# How soon a deferred attempt comes back.
DEFER_SECONDS = 1
# complete() after a successful handler: bounded retries with backoff (0.1, 0.2, 0.4 s),
# because a failed completion must not make the handler run again.
COMPLETE_ATTEMPTS = 4
_COMPLETE_BACKOFF_SECONDS = 0.1


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
        dynamodb: DynamoDBClient | None = None,
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

    def check(self) -> None:
        """Fail fast if the ledger's table cannot be used (ConfigurationError)."""
        self._ledger.check()

    def renew(self, claim: Claim, lease_seconds: float) -> None:
        """Extend a running task's lease (the consumer's heartbeat calls this)."""
        self._ledger.renew(claim, lease_seconds)

    def interrupt(self, claim: Claim) -> None:
        """Mark a task a stop leaves running, so its end counts no failure."""
        self._ledger.interrupt(claim)

    def dispatch(
        self,
        body: str | bytes,
        *,
        attempt: int,
        lease_seconds: float | None = None,
        on_claim: OnClaim | None = None,
    ) -> DispatchResult:
        """Run one message body.

        ``lease_seconds`` is the ledger lease (default: the task's maximum duration plus
        grace, for a run nobody renews); ``on_claim`` learns the claim and spec before
        the handler starts, so a heartbeat can renew the lease and time the run.
        """
        envelope: Envelope | None = None
        try:
            envelope = decode(body)
            spec = self._spec_for(envelope)
            return self._run(spec, envelope, attempt, lease_seconds, on_claim)
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

    def _run(
        self,
        spec: TaskSpec,
        envelope: Envelope,
        attempt: int,
        lease_seconds: float | None,
        on_claim: OnClaim | None,
    ) -> DispatchResult:
        key = envelope.get("idempotency_key") or envelope["id"]
        lease = (
            lease_seconds
            if lease_seconds is not None
            else task_lease_seconds(spec.max_duration_seconds)
        )
        claim = self._claim(spec.name, key, lease)
        if claim.duplicate:
            return DispatchResult(Outcome.DUPLICATE, envelope)
        if claim.failures is not None and budget_exhausted(claim.failures, spec.max_attempts):
            # Only attempts that ended with their process are counted before a run.
            _quietly(self._ledger.discard, claim)
            error = ProcessEndedError(
                f"task '{spec.name}' ended its process {claim.ended} times "
                "(SIGKILL, a crash or the out-of-memory killer)"
            )
            note = (
                f"failed {claim.failures} of {spec.max_attempts} attempts, the task's retry budget"
            )
            return DispatchResult(Outcome.DEAD_LETTER, envelope, error, note=note)
        if on_claim is not None and not on_claim(claim, spec):
            _quietly(lambda c: self._ledger.release(c, count_failure=False), claim)
            note = "deferred: it runs alone, and this consumer is busy"
            return DispatchResult(
                Outcome.RETRY, envelope, retry_after_seconds=DEFER_SECONDS, note=note
            )
        try:
            spec.handle(envelope["payload"], self._context(envelope, key, attempt, claim))
        except Exception as error:
            return self._failed(spec, envelope, claim, error, attempt)
        except BaseException as error:
            # SystemExit or KeyboardInterrupt raised by the handler itself (signals reach
            # the main thread, never a handler thread): settle it, never let it escape.
            exit_error = HandlerExitError(
                f"the handler raised {type(error).__name__}({error!s}); handlers must "
                "raise Exception subclasses, never end the process"
            )
            return self._failed(spec, envelope, claim, exit_error, attempt)
        return self._completed(envelope, claim)

    def _claim(self, task: str, key: str, lease: float) -> Claim:
        try:
            return self._ledger.claim(task, key, lease)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ValidationException":
                raise
            # The item is made of the envelope's task and key, so no retry can pass.
            raise LedgerRejectedError(
                f"the idempotency ledger refused key {key[:80]!r} of task '{task}' "
                f"({error.response['Error'].get('Message', '')}); send it with a shorter "
                "idempotency key"
            ) from error

    def _failed(
        self, spec: TaskSpec, envelope: Envelope, claim: Claim, error: Exception, attempt: int
    ) -> DispatchResult:
        if isinstance(error, TaskDeferredError):
            # Not a failed attempt: free the key without counting it against the budget.
            _quietly(functools.partial(self._ledger.release, count_failure=False), claim)
            return DispatchResult(
                Outcome.RETRY,
                envelope,
                error,
                error.retry_after_seconds,
                note="deferred, not counted against the retry budget",
            )
        # Without a ledger count, the receive count is the closest (over-)estimate.
        failures = (claim.failures if claim.failures is not None else attempt - 1) + 1
        if is_permanent(error):
            _quietly(self._ledger.discard, claim)
            return DispatchResult(Outcome.DEAD_LETTER, envelope, error)
        if budget_exhausted(failures, spec.max_attempts):
            _quietly(self._ledger.discard, claim)
            note = f"failed {failures} of {spec.max_attempts} attempts, the task's retry budget"
            return DispatchResult(Outcome.DEAD_LETTER, envelope, error, note=note)
        # Free the key and count the failure, so the retry (or a redrive) runs again.
        _quietly(self._ledger.release, claim)
        return DispatchResult(Outcome.RETRY, envelope, error, note=f"attempt {failures} failed")

    def _completed(self, envelope: Envelope, claim: Claim) -> DispatchResult:
        last: Exception | None = None
        for retry in range(COMPLETE_ATTEMPTS):
            if retry:
                time.sleep(_COMPLETE_BACKOFF_SECONDS * 2 ** (retry - 1))
            try:
                self._ledger.complete(claim)
                return DispatchResult(Outcome.SUCCEEDED, envelope)
            except LeaseLostError as error:
                # Another delivery holds the key: its outcome decides; ours is an error.
                return DispatchResult(Outcome.RETRY, envelope, error)
            except Exception as error:
                last = error
        # The effect happened; running it again would apply it twice. Keep the claim
        # (its lease keeps other deliveries out until it ends) and acknowledge.
        return DispatchResult(
            Outcome.SUCCEEDED,
            envelope,
            last,
            note=(
                f"the handler succeeded but the ledger completion failed {COMPLETE_ATTEMPTS} "
                "times; the message is deleted and the claim left to expire"
            ),
        )

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


def _quietly(action: Callable[[Claim], None], claim: Claim) -> None:
    try:
        action(claim)
    except Exception as error:
        logger.warning(
            "could not update the idempotency claim; it expires with its lease",
            extra={"key": claim.key, "error": str(error)},
        )
