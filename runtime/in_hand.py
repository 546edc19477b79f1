"""The messages a queue consumer holds, each in one explicit state.

States (:class:`EntryState`) and the only changes allowed between them::

    IN_HAND ──> SETTLING ──> DONE       received, running or about to run; finished
       │                                and settling (the settler owns its visibility)
       ├──> ABANDONED ──> DONE          handed back past its maximum duration; its
       │                                thread runs on (its lease is still renewed)
       ├──> RELEASED                    handed back unstarted at the drain
       └──> DONE                        processing failed unexpectedly

Every change goes through :meth:`InHand.change`, under the lock, and says whether it
happened: so a task that settles at its time limit can no longer be abandoned too.
No network call is made while the lock is held; a visibility extension in flight
*pins* its entries instead, and a change to SETTLING waits for the pin to go, so an
extension never overwrites the settler's own visibility change.

A claim whose earlier attempts ended with their process (``Claim.ended``) runs alone:
:meth:`InHand.admit` waits for the other handlers to finish and stops receiving
meanwhile, so a process-killing message cannot take a good one down with it, and
the good one is never blamed for its deaths.
"""

from __future__ import annotations

import enum
import threading
import time
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from concurrent.futures import Future

    from runtime.idempotency import Claim
    from runtime.registry import TaskSpec
    from runtime.settlement import Message

__all__ = ["SQS_BATCH", "Entry", "EntryState", "InHand", "Stoppable"]

SQS_BATCH = 10
_POLL_STOP_SECONDS = 0.2


class Stoppable(Protocol):
    def is_set(self) -> bool: ...


class EntryState(enum.Enum):
    IN_HAND = "in hand"
    SETTLING = "settling"
    ABANDONED = "abandoned"
    RELEASED = "released"
    DONE = "done"


_ALLOWED: dict[EntryState, frozenset[EntryState]] = {
    EntryState.IN_HAND: frozenset(
        {EntryState.SETTLING, EntryState.ABANDONED, EntryState.RELEASED, EntryState.DONE}
    ),
    EntryState.SETTLING: frozenset({EntryState.DONE}),
    EntryState.ABANDONED: frozenset({EntryState.DONE}),
}
# Entries in these states still occupy a pool thread (and so a place in hand).
_OCCUPYING = frozenset({EntryState.IN_HAND, EntryState.SETTLING})


class Entry:
    """One received message. Its fields change only under :attr:`InHand.lock`."""

    __slots__ = (
        "claim",
        "deadline",
        "future",
        "lease_renewed_at",
        "message",
        "pinned",
        "running",
        "spec",
        "started",
        "state",
    )

    def __init__(self, message: Message, deadline: float) -> None:
        self.message = message
        # When its visibility runs out, on this process's monotonic clock.
        self.deadline = deadline
        self.state = EntryState.IN_HAND
        self.future: Future[None] | None = None
        self.claim: Claim | None = None
        self.spec: TaskSpec | None = None
        self.started = 0.0
        self.lease_renewed_at = 0.0
        self.running = False  # its handler is running
        self.pinned = False  # a visibility extension is in flight

    def overdue(self, now: float) -> bool:
        return (
            self.running
            and self.spec is not None
            and now - self.started > self.spec.max_duration_seconds
        )


class InHand:
    """Messages received and not yet settled, keyed by receipt handle."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self._entries: dict[str, Entry] = {}
        self._running = 0
        # The entry that runs alone (or waits to), if any.
        self._solo: Entry | None = None

    def add(self, message: Message, deadline: float) -> Entry:
        with self.lock:
            entry = self._entries[message.receipt_handle] = Entry(message, deadline)
            return entry

    def change(self, entry: Entry, to: EntryState) -> bool:
        """Move ``entry`` to state ``to`` if allowed from its current state; say if it moved."""
        with self.lock:
            if to not in _ALLOWED.get(entry.state, frozenset()):
                return False
            while to is EntryState.SETTLING and entry.pinned:
                self.lock.wait()
            entry.state = to
            if to in (EntryState.DONE, EntryState.RELEASED):
                self._entries.pop(entry.message.receipt_handle, None)
            self.lock.notify_all()
            return True

    def select(self, states: frozenset[EntryState]) -> list[Entry]:
        with self.lock:
            return [e for e in self._entries.values() if e.state in states]

    def count(self, states: frozenset[EntryState] = _OCCUPYING) -> int:
        with self.lock:
            return sum(1 for e in self._entries.values() if e.state in states)

    def __len__(self) -> int:
        with self.lock:
            return len(self._entries)

    # --- visibility pins -------------------------------------------------------------

    def pin_due(self, due_before: float) -> list[Entry]:
        """Pin and return the IN_HAND entries whose visibility ends before ``due_before``."""
        with self.lock:
            due = [
                e
                for e in self._entries.values()
                if e.state is EntryState.IN_HAND and e.deadline < due_before
            ]
            for entry in due:
                entry.pinned = True
            return due

    def unpin(self, entries: list[Entry], extended: set[int], deadline: float) -> None:
        """Unpin after an extension; ``extended`` are the indexes that succeeded."""
        with self.lock:
            for index, entry in enumerate(entries):
                entry.pinned = False
                if index in extended:
                    entry.deadline = deadline
            self.lock.notify_all()

    # --- running handlers ------------------------------------------------------------

    def admit(self, entry: Entry, claim: Claim, spec: TaskSpec, stop: Stoppable) -> bool:
        """Whether ``entry``'s handler may start now (False: defer the attempt).

        A claim that ended its process before runs alone: it waits for the running
        handlers to finish (receiving pauses meanwhile). Only one waits at a time; any
        other attempt arriving beside it is deferred rather than held in a process it
        may take down.
        """
        with self.lock:
            entry.claim, entry.spec = claim, spec
            entry.lease_renewed_at = time.monotonic()
            if self._solo is not None:
                return False
            if claim.ended:
                self._solo = entry
                while self._running and not stop.is_set():
                    self.lock.wait(_POLL_STOP_SECONDS)
                if stop.is_set():
                    self._solo = None
                    self.lock.notify_all()
                    return False
            self._running += 1
            entry.running, entry.started = True, time.monotonic()
            return True

    def renewed(self, entry: Entry, at: float) -> None:
        with self.lock:
            entry.lease_renewed_at = at

    def is_running(self, entry: Entry) -> bool:
        """Whether its handler still runs (a finished task's lease is not "lost")."""
        with self.lock:
            return entry.running

    def handler_returned(self, entry: Entry) -> None:
        with self.lock:
            if entry.running:
                entry.running = False
                self._running -= 1
            if self._solo is entry:
                self._solo = None
            self.lock.notify_all()

    # --- receiving -------------------------------------------------------------------

    def wait_for_room(self, limit: int, stop: Stoppable, linger: float) -> int:
        """Block until a thread is free, or stop; returns the room (0 = stop).

        Once one is free, wait up to ``linger`` seconds for more (threads that finish
        together), so one receive fetches them all instead of one receive each. No
        room while an entry runs alone.
        """
        with self.lock:
            while not stop.is_set():
                room = self._room(limit)
                if room >= 1:
                    linger_until = time.monotonic() + linger
                    while room < min(limit, SQS_BATCH) and not stop.is_set():
                        left = linger_until - time.monotonic()
                        if left <= 0:
                            break
                        self.lock.wait(left)
                        room = self._room(limit)
                    if room >= 1:
                        return room
                self.lock.wait(_POLL_STOP_SECONDS)
        return 0

    def wait_until_empty(self, stop: Stoppable) -> None:
        """Block until nothing is in hand (abandoned runaways aside), or stop."""
        with self.lock:
            while not stop.is_set() and any(e.state in _OCCUPYING for e in self._entries.values()):
                self.lock.wait(_POLL_STOP_SECONDS)

    def _room(self, limit: int) -> int:
        if self._solo is not None:
            return 0
        return limit - sum(1 for e in self._entries.values() if e.state in _OCCUPYING)
