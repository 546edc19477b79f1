"""The consumer's two heartbeats, each in its own thread so neither waits for the other.

* :class:`VisibilityKeeper` extends the visibility of every message in hand before it
  runs out and abandons a task past its maximum duration. It calls SQS only, so a
  slow or throttled DynamoDB never gets a healthy message redelivered.
* :class:`LeaseRenewer` renews the idempotency lease of every claimed task, its
  abandoned runaways included (so a retry never runs beside them), from a list it
  takes at each tick: a lease found completed by its own owner is not "lost".

The order between the two no longer matters: a redelivered message's claim waits a
whole lease period of unrenewed token on its own clock before it takes over (see
``runtime.idempotency``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from runtime.errors import LeaseLostError
from runtime.in_hand import EntryState, InHand
from runtime.log import logger
from runtime.sqs_calls import BackgroundThread, change_visibility

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

    from runtime.idempotency import Claim
    from runtime.in_hand import Entry

__all__ = ["LeaseRenewer", "VisibilityKeeper"]

_CLAIMED = frozenset({EntryState.IN_HAND, EntryState.ABANDONED})


def tick_seconds(period: float) -> float:
    """Tick often enough to act when half of ``period`` is left."""
    return max(0.5, min(period / 4, 60.0))


class VisibilityKeeper(BackgroundThread):
    """Extends visibility of messages in hand; abandons overdue tasks.

    A task past its maximum duration is abandoned: its message is handed back at once
    (it is retried), a log line says so, and ``on_abandon`` stops the loop, because a
    Python thread cannot be killed: only the process exit (ECS then starts a new
    task) ends it.
    """

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        in_hand: InHand,
        visibility: int,
        *,
        on_abandon: Callable[[], None],
        on_tick: Callable[[bool], None],
    ) -> None:
        super().__init__("async-task-visibility")
        self._sqs = sqs
        self._queue_url = queue_url
        self._in_hand = in_hand
        self._visibility = visibility
        self._on_abandon = on_abandon
        self._on_tick = on_tick

    def run(self) -> None:
        while not self.closed.wait(tick_seconds(self._visibility)):
            try:
                self.tick()
            except Exception as error:
                logger.warning("visibility heartbeat failed", extra={"error": str(error)})

    def tick(self) -> None:
        now = time.monotonic()
        for entry in self._in_hand.select(frozenset({EntryState.IN_HAND})):
            if entry.overdue(now) and self._in_hand.change(entry, EntryState.ABANDONED):
                self._abandoned(entry)
        due = self._in_hand.pin_due(now + self._visibility / 2)
        extended: set[int] = set()
        try:
            extended = change_visibility(
                self._sqs, self._queue_url, [e.message for e in due], self._visibility
            )
        finally:
            self._in_hand.unpin(due, extended, now + self._visibility)
        self._on_tick(len(self._in_hand) > 0)

    def _abandoned(self, entry: Entry) -> None:
        change_visibility(self._sqs, self._queue_url, [entry.message], 0)
        spec = entry.spec
        logger.error(
            "task ran past its maximum duration: abandoned, its message handed back for a "
            "retry; stopping so the process exits and ends the runaway thread",
            extra={
                "task": spec.name if spec else None,
                "message_id": entry.message.message_id,
                "max_duration_seconds": spec.max_duration_seconds if spec else None,
            },
        )
        self._on_abandon()


class LeaseRenewer(BackgroundThread):
    """Renews the lease of every claimed task half a lease after the last renewal.

    Ticks come every quarter lease, so a renewal lands within three quarters of one.
    """

    def __init__(
        self,
        in_hand: InHand,
        lease_seconds: float,
        *,
        renew: Callable[[Claim, float], None],
    ) -> None:
        super().__init__("async-task-lease-renewer")
        self._in_hand = in_hand
        self._lease = lease_seconds
        self._renew = renew

    def run(self) -> None:
        while not self.closed.wait(tick_seconds(self._lease)):
            try:
                self.tick()
            except Exception as error:
                logger.warning("lease heartbeat failed", extra={"error": str(error)})

    def tick(self) -> None:
        due_before = time.monotonic() - self._lease / 2
        for entry in self._in_hand.select(_CLAIMED):
            claim = entry.claim
            if claim is None or not claim.owner or entry.lease_renewed_at > due_before:
                continue
            started = time.monotonic()
            try:
                self._renew(claim, self._lease)
                self._in_hand.renewed(entry, started)
            except LeaseLostError as error:
                if self._in_hand.is_running(entry):
                    logger.error(
                        "idempotency lease lost while the task runs; its completion will fail",
                        extra={"message_id": entry.message.message_id, "error": str(error)},
                    )
            except Exception as error:
                logger.warning(
                    "lease renewal failed",
                    extra={"message_id": entry.message.message_id, "error": str(error)},
                )
