"""The queue-consuming loop shared by the SQS worker and the embeddable poller.

One receiving thread long-polls (20 s) for as many messages as there are free threads
(at most 10), so a message this consumer cannot start yet stays visible to idle ones.
A thread pool runs the tasks. Around it:

* a heartbeat thread extends the visibility of every message in hand before it runs
  out, renews the idempotency lease of every running task with it, abandons a task
  that runs past its maximum duration (see :class:`_Heartbeat`), and renews ECS
  scale-in protection;
* a deleter thread acknowledges settled messages with DeleteMessageBatch (up to 10,
  after a short linger);
* on stop, receiving ends, messages not yet started are released at once
  (visibility 0), running ones get until the drain deadline, deletes are flushed and
  scale-in protection is dropped.

At most ``concurrency`` messages are in hand, all of them running.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runtime.dispatcher import Dispatcher, DispatchResult
from runtime.errors import LeaseLostError
from runtime.idempotency import Claim
from runtime.log import logger
from runtime.protection import ScaleInProtection
from runtime.registry import TaskSpec
from runtime.settlement import Message, Settler

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import DeleteMessageBatchRequestEntryTypeDef

__all__ = ["ConsumerConfig", "DrainReport", "QueueConsumer", "StopSignal"]

SQS_BATCH = 10
_RECEIVE_ERROR_PAUSE_SECONDS = 2.0
_POLL_STOP_SECONDS = 0.2
# How long a free thread waits for others to free up before the receive (see
# _InHand.wait_for_room): short against a task, long against a no-op handler.
_RECEIVE_LINGER_SECONDS = 0.01


@dataclass(frozen=True, kw_only=True)
class ConsumerConfig:
    """Loop tuning. Default: 4 threads, 20 s long polls, 100 s drain, queue's visibility."""

    concurrency: int = 4
    wait_seconds: int = 20
    drain_seconds: float = 100.0
    visibility_timeout_seconds: int | None = None
    delete_linger_seconds: float = 0.05

    def __post_init__(self) -> None:
        problems = []
        if self.concurrency < 1:
            problems.append(f"concurrency is {self.concurrency}; use at least 1")
        if not 0 <= self.wait_seconds <= 20:
            problems.append(f"wait_seconds is {self.wait_seconds}; SQS accepts 0..20")
        if self.drain_seconds < 0:
            problems.append(f"drain_seconds is {self.drain_seconds}; use 0 or more")
        if problems:
            raise ValueError("invalid consumer settings: " + "; ".join(problems))


class StopSignal:
    """A stop request that remembers when it came, so the drain budget starts then."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.requested_at: float | None = None

    def request(self) -> None:
        if self.requested_at is None:
            self.requested_at = time.monotonic()
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


@dataclass(frozen=True)
class DrainReport:
    """How the loop ended.

    ``released``: handed back unstarted; ``abandoned``: still running at the drain
    deadline; ``overdue``: abandoned earlier for running past their maximum duration
    (their thread cannot be stopped, so the loop stopped for the process to exit).
    """

    released: int
    abandoned: int
    overdue: int = 0


class _Entry:
    __slots__ = ("abandoned", "claim", "deadline", "future", "message", "spec", "started")

    def __init__(self, message: Message, deadline: float) -> None:
        self.message = message
        self.deadline = deadline
        self.future: Future[None] | None = None
        self.claim: Claim | None = None
        self.spec: TaskSpec | None = None
        self.started = 0.0
        self.abandoned = False

    def claimed(self, claim: Claim, spec: TaskSpec) -> None:
        self.claim, self.spec, self.started = claim, spec, time.monotonic()

    def overdue(self, now: float) -> bool:
        return self.spec is not None and now - self.started > self.spec.max_duration_seconds


class _InHand:
    """Messages received and not yet settled, keyed by receipt handle."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.entries: dict[str, _Entry] = {}
        # Abandoned past their maximum duration, their threads still running.
        self.overdue: list[_Entry] = []

    def add(self, message: Message, deadline: float) -> _Entry:
        with self.lock:
            entry = self.entries[message.receipt_handle] = _Entry(message, deadline)
            return entry

    def forget(self, message: Message) -> None:
        with self.lock:
            self.entries.pop(message.receipt_handle, None)
            self.lock.notify_all()

    def finish(self, entry: _Entry) -> bool:
        """Take a finished entry out of hand; False if the heartbeat abandoned it first."""
        with self.lock:
            if entry.abandoned:
                self.overdue.remove(entry)
                return False
            self.entries.pop(entry.message.receipt_handle, None)
            self.lock.notify_all()
            return True

    def abandon(self, entry: _Entry) -> None:
        """Out of hand (no more visibility extensions) but its lease is still renewed."""
        with self.lock:
            self.entries.pop(entry.message.receipt_handle, None)
            entry.abandoned = True
            self.overdue.append(entry)

    def __len__(self) -> int:
        with self.lock:
            return len(self.entries)

    def wait_for_room(self, limit: int, stop: StopSignal, linger: float) -> int:
        """Block until a thread is free, or stop; returns the room (0 = stop).

        Once one is free, wait up to ``linger`` seconds for more (threads that finish
        together), so one receive fetches them all instead of one receive each.
        """
        with self.lock:
            while not stop.is_set():
                room = limit - len(self.entries)
                if room >= 1:
                    linger_until = time.monotonic() + linger
                    while room < min(limit, SQS_BATCH) and not stop.is_set():
                        left = linger_until - time.monotonic()
                        if left <= 0:
                            break
                        self.lock.wait(left)
                        room = limit - len(self.entries)
                    return room
                self.lock.wait(_POLL_STOP_SECONDS)
        return 0


class QueueConsumer:
    """Consumes one queue until stopped. Clients and collaborators are injected."""

    def __init__(
        self,
        queue_url: str,
        dispatcher: Dispatcher,
        *,
        sqs: SQSClient,
        settler: Settler,
        protection: ScaleInProtection,
        config: ConsumerConfig | None = None,
    ) -> None:
        self._queue_url = queue_url
        self._dispatcher = dispatcher
        self._sqs = sqs
        self._settler = settler
        self._protection = protection
        self._config = config if config is not None else ConsumerConfig()

    def run(self, stop: StopSignal) -> DrainReport:
        """Receive and run messages until ``stop`` is requested, then drain."""
        visibility = self._visibility_timeout()
        in_hand = _InHand()
        pool = ThreadPoolExecutor(self._config.concurrency, thread_name_prefix="async-task")
        deleter = _Deleter(self._sqs, self._queue_url, self._config.delete_linger_seconds)
        heartbeat = _Heartbeat(
            self._sqs,
            self._queue_url,
            in_hand,
            visibility,
            self._protection,
            renew=self._dispatcher.renew,
            stop=stop,
        )
        with _running(deleter), _running(heartbeat):
            try:
                self._receive_until_stopped(stop, in_hand, pool, deleter, visibility)
            finally:
                report = self._drain(stop, in_hand, pool)
        self._protection.release()
        logger.info(
            "consumer stopped",
            extra={
                "released": report.released,
                "abandoned": report.abandoned,
                "overdue": report.overdue,
            },
        )
        return report

    def _visibility_timeout(self) -> int:
        if self._config.visibility_timeout_seconds is not None:
            return self._config.visibility_timeout_seconds
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._queue_url, AttributeNames=["VisibilityTimeout"]
        )["Attributes"]
        return int(attributes["VisibilityTimeout"])

    def _receive_until_stopped(
        self,
        stop: StopSignal,
        in_hand: _InHand,
        pool: ThreadPoolExecutor,
        deleter: _Deleter,
        visibility: int,
    ) -> None:
        # Receive only what a free thread can start now: a message waiting in hand
        # here is one an idle consumer elsewhere could be running.
        limit = self._config.concurrency
        while True:
            room = in_hand.wait_for_room(limit, stop, _RECEIVE_LINGER_SECONDS)
            if not room:
                return
            try:
                response = self._sqs.receive_message(
                    QueueUrl=self._queue_url,
                    MaxNumberOfMessages=min(SQS_BATCH, room),
                    WaitTimeSeconds=self._config.wait_seconds,
                    MessageSystemAttributeNames=["ApproximateReceiveCount"],
                )
            except Exception as error:
                logger.error("receive failed; pausing", extra={"error": str(error)})
                stop.wait(_RECEIVE_ERROR_PAUSE_SECONDS)
                continue
            messages = [
                Message.from_api(self._queue_url, raw) for raw in response.get("Messages", [])
            ]
            if stop.is_set():
                # Received after the stop request: hand them straight back.
                _release(self._sqs, self._queue_url, messages)
                return
            if not messages:
                if not len(in_hand):
                    self._protection.release()
                continue
            self._protection.hold()
            deadline = time.monotonic() + visibility
            for message in messages:
                entry = in_hand.add(message, deadline)
                entry.future = pool.submit(self._process, entry, in_hand, deleter, visibility)

    def _process(self, entry: _Entry, in_hand: _InHand, deleter: _Deleter, visibility: int) -> None:
        message = entry.message
        started = time.perf_counter()
        try:
            # The lease moves with the visibility timeout: the heartbeat renews both.
            result = self._dispatcher.dispatch(
                message.body,
                attempt=message.receive_count,
                lease_seconds=visibility,
                on_claim=entry.claimed,
            )
            elapsed_ms = (time.perf_counter() - started) * 1000
            # Out of the heartbeat's hands before any visibility change of our own.
            if not in_hand.finish(entry):
                _log_late_outcome(message, result, elapsed_ms)
                return
            if self._settler.settle(message, result, elapsed_ms):
                deleter.put(message)
        except BaseException as error:
            # dispatch and settle do not raise; if they ever do, never keep the message
            # in hand (the heartbeat would hide it for as long as this process lives).
            in_hand.forget(message)
            logger.error(
                "message processing failed; its visibility timeout brings it back",
                extra={"message_id": message.message_id, "error": repr(error)},
            )

    def _drain(self, stop: StopSignal, in_hand: _InHand, pool: ThreadPoolExecutor) -> DrainReport:
        started = stop.requested_at if stop.requested_at is not None else time.monotonic()
        deadline = started + self._config.drain_seconds
        logger.info("draining", extra={"in_hand": len(in_hand)})
        with in_hand.lock:
            entries = list(in_hand.entries.values())
        unstarted = [e.message for e in entries if e.future is not None and e.future.cancel()]
        for message in unstarted:
            in_hand.forget(message)
        _release(self._sqs, self._queue_url, unstarted)
        running = [
            e.future
            for e in entries
            if e.future is not None and not e.future.cancelled() and not e.abandoned
        ]
        _, not_done = wait(running, timeout=max(0.0, deadline - time.monotonic()))
        if not_done:
            logger.error(
                "drain deadline reached with tasks still running; their messages return "
                "to the queue when their visibility timeout ends",
                extra={"abandoned": len(not_done)},
            )
        pool.shutdown(wait=False, cancel_futures=True)
        with in_hand.lock:
            overdue = len(in_hand.overdue)
        return DrainReport(released=len(unstarted), abandoned=len(not_done), overdue=overdue)


def _log_late_outcome(message: Message, result: DispatchResult, elapsed_ms: float) -> None:
    logger.warning(
        "an abandoned task finished after its maximum duration; its message was already "
        "handed back, so this outcome is not settled",
        extra={
            "message_id": message.message_id,
            "outcome": result.outcome.value,
            "reason": result.reason,
            "duration_ms": round(elapsed_ms, 1),
        },
    )


def _change_visibility(
    sqs: SQSClient, queue_url: str, messages: list[Message], timeout: int
) -> set[int]:
    """ChangeMessageVisibilityBatch in tens; returns the indexes that succeeded."""
    succeeded: set[int] = set()
    for start in range(0, len(messages), SQS_BATCH):
        chunk = messages[start : start + SQS_BATCH]
        try:
            response = sqs.change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": timeout}
                    for i, m in enumerate(chunk)
                ],
            )
        except Exception as error:
            logger.warning("visibility change failed", extra={"error": str(error)})
            continue
        succeeded.update(start + int(entry["Id"]) for entry in response.get("Successful", []))
    return succeeded


def _release(sqs: SQSClient, queue_url: str, messages: list[Message]) -> None:
    """Make messages visible again at once (visibility 0), so another consumer takes them."""
    if not messages:
        return
    released = len(_change_visibility(sqs, queue_url, messages, 0))
    if released < len(messages):
        logger.warning(
            "some messages were not released; they return after their visibility timeout",
            extra={"failed": len(messages) - released},
        )
    logger.info("released unstarted messages", extra={"released": released})


class _Worker(threading.Thread):
    """A daemon helper thread with a clean close."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.closed = threading.Event()

    def close(self) -> None:
        self.closed.set()
        self.join()


@contextmanager
def _running(thread: _Worker) -> Iterator[None]:
    thread.start()
    try:
        yield
    finally:
        thread.close()


class _Deleter(_Worker):
    """Acknowledges settled messages in DeleteMessageBatch calls of up to 10."""

    def __init__(self, sqs: SQSClient, queue_url: str, linger_seconds: float) -> None:
        super().__init__("async-task-deleter")
        self._sqs = sqs
        self._queue_url = queue_url
        self._linger = linger_seconds
        self._queue: queue.SimpleQueue[Message] = queue.SimpleQueue()

    def put(self, message: Message) -> None:
        self._queue.put(message)

    def run(self) -> None:
        while not (self.closed.is_set() and self._queue.empty()):
            try:
                batch = [self._queue.get(timeout=_POLL_STOP_SECONDS)]
            except queue.Empty:
                continue
            linger_until = time.monotonic() + self._linger
            while len(batch) < SQS_BATCH:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, linger_until - time.monotonic())))
                except queue.Empty:
                    break
            self._send_deletes(batch)

    def _send_deletes(self, batch: list[Message]) -> None:
        entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
            {"Id": str(i), "ReceiptHandle": m.receipt_handle} for i, m in enumerate(batch)
        ]
        failed: Sequence[Mapping[str, object]]
        try:
            failed = self._sqs.delete_message_batch(QueueUrl=self._queue_url, Entries=entries).get(
                "Failed", []
            )
        except Exception as error:
            failed = [{"Id": e["Id"], "Message": str(error)} for e in entries]
        if failed:
            # They come back after their visibility timeout; the ledger marks them duplicates.
            logger.warning(
                "delete failed; the messages will be redelivered as duplicates",
                extra={"failed": failed},
            )


class _Heartbeat(_Worker):
    """Extends visibility and leases of running tasks; abandons overdue ones.

    Lease renewal runs before the visibility change, so after a crash the lease has
    always run out by the time the message is visible again. A task past its maximum
    duration is abandoned: its message is handed back at once (it is retried), a log
    line says so, and the loop is stopped, because a Python thread cannot be killed:
    only the process exit (ECS then starts a new task) ends it. Until then its lease
    is still renewed, so the retry never runs beside it.
    """

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        in_hand: _InHand,
        visibility: int,
        protection: ScaleInProtection,
        *,
        renew: Callable[[Claim, float], None],
        stop: StopSignal,
    ) -> None:
        super().__init__("async-task-heartbeat")
        self._sqs = sqs
        self._queue_url = queue_url
        self._in_hand = in_hand
        self._visibility = visibility
        self._protection = protection
        self._renew = renew
        self._stop_signal = stop
        # Tick often enough to act when half of the visibility timeout is left.
        self._interval = max(0.5, min(visibility / 4, 60.0))

    def run(self) -> None:
        while not self.closed.wait(self._interval):
            try:
                self._tick()
            except Exception as error:
                logger.warning("heartbeat failed", extra={"error": str(error)})

    def _tick(self) -> None:
        now = time.monotonic()
        with self._in_hand.lock:
            overdue = [
                (e, e.spec)
                for e in self._in_hand.entries.values()
                if e.spec is not None and e.overdue(now)
            ]
        for entry, spec in overdue:
            self._abandon(entry, spec)
        with self._in_hand.lock:
            due = [
                e for e in self._in_hand.entries.values() if e.deadline - now < self._visibility / 2
            ]
            zombies = [e for e in self._in_hand.overdue if e.deadline - now < self._visibility / 2]
        for entry in [*due, *zombies]:
            self._renew_lease(entry, now)
        # Holding the lock keeps a settling message from having its own visibility
        # change (a retry delay) overwritten by this extension.
        with self._in_hand.lock:
            due = [e for e in due if e.message.receipt_handle in self._in_hand.entries]
            messages = [entry.message for entry in due]
            for index in _change_visibility(self._sqs, self._queue_url, messages, self._visibility):
                due[index].deadline = now + self._visibility
            busy = bool(self._in_hand.entries or self._in_hand.overdue)
        if busy:
            self._protection.hold()

    def _renew_lease(self, entry: _Entry, now: float) -> None:
        if entry.claim is None or not entry.claim.owner:
            return
        try:
            self._renew(entry.claim, self._visibility)
            if entry.abandoned:
                entry.deadline = now + self._visibility
        except LeaseLostError as error:
            logger.error(
                "idempotency lease lost while the task runs; its completion will fail",
                extra={"message_id": entry.message.message_id, "error": str(error)},
            )
        except Exception as error:
            logger.warning(
                "lease renewal failed",
                extra={"message_id": entry.message.message_id, "error": str(error)},
            )

    def _abandon(self, entry: _Entry, spec: TaskSpec) -> None:
        self._in_hand.abandon(entry)
        _change_visibility(self._sqs, self._queue_url, [entry.message], 0)
        logger.error(
            "task ran past its maximum duration: abandoned, its message handed back for a "
            "retry; stopping so the process exits and ends the runaway thread",
            extra={
                "task": spec.name,
                "message_id": entry.message.message_id,
                "max_duration_seconds": spec.max_duration_seconds,
            },
        )
        self._stop_signal.request()
