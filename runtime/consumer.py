"""The queue-consuming loop shared by the SQS worker and the embeddable poller.

One receiving thread long-polls (20 s) for batches of up to 10 while a thread pool runs
the tasks. Around it:

* a heartbeat thread extends the visibility of every message in hand before it runs
  out, and renews ECS scale-in protection;
* a deleter thread acknowledges settled messages with DeleteMessageBatch (up to 10,
  after a short linger);
* on stop, receiving ends, messages not yet started are released at once
  (visibility 0), running ones get until the drain deadline, deletes are flushed and
  scale-in protection is dropped.

At most ``2 * concurrency`` messages are in hand: one batch running, one waiting.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from runtime._log import logger
from runtime.dispatcher import Dispatcher
from runtime.protection import ScaleInProtection
from runtime.settlement import Message, Settler

__all__ = ["ConsumerConfig", "DrainReport", "QueueConsumer", "StopSignal"]

SQS_BATCH = 10
_RECEIVE_ERROR_PAUSE_SECONDS = 2.0
_POLL_STOP_SECONDS = 0.2


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
    """How the loop ended: messages released unstarted, and still running at the deadline."""

    released: int
    abandoned: int


class _Entry:
    __slots__ = ("deadline", "future", "message")

    def __init__(self, message: Message, deadline: float) -> None:
        self.message = message
        self.deadline = deadline
        self.future: Future[None] | None = None


class _InHand:
    """Messages received and not yet settled, keyed by receipt handle."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.entries: dict[str, _Entry] = {}

    def add(self, message: Message, deadline: float) -> _Entry:
        with self.lock:
            entry = self.entries[message.receipt_handle] = _Entry(message, deadline)
            return entry

    def forget(self, message: Message) -> None:
        with self.lock:
            self.entries.pop(message.receipt_handle, None)
            self.lock.notify_all()

    def __len__(self) -> int:
        with self.lock:
            return len(self.entries)

    def wait_for_room(self, limit: int, at_least: int, stop: StopSignal) -> int:
        """Block until ``at_least`` more messages fit, or stop; returns the room (0 = stop)."""
        with self.lock:
            while not stop.is_set():
                room = limit - len(self.entries)
                if room >= at_least:
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
        sqs: Any,
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
        heartbeat = _Heartbeat(self._sqs, self._queue_url, in_hand, visibility, self._protection)
        with _running(deleter), _running(heartbeat):
            try:
                self._receive_until_stopped(stop, in_hand, pool, deleter, visibility)
            finally:
                report = self._drain(stop, in_hand, pool)
        self._protection.release()
        logger.info(
            "consumer stopped",
            extra={"released": report.released, "abandoned": report.abandoned},
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
        limit = 2 * self._config.concurrency
        at_least = min(SQS_BATCH, self._config.concurrency)
        while True:
            room = in_hand.wait_for_room(limit, at_least, stop)
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
                entry.future = pool.submit(self._process, message, in_hand, deleter)

    def _process(self, message: Message, in_hand: _InHand, deleter: _Deleter) -> None:
        started = time.perf_counter()
        result = self._dispatcher.dispatch(message.body, attempt=message.receive_count)
        # Out of the heartbeat's hands before any visibility change of our own.
        in_hand.forget(message)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if self._settler.settle(message, result, elapsed_ms):
            deleter.put(message)

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
        running = [e.future for e in entries if e.future is not None and not e.future.cancelled()]
        _, not_done = wait(running, timeout=max(0.0, deadline - time.monotonic()))
        if not_done:
            logger.error(
                "drain deadline reached with tasks still running; their messages return "
                "to the queue when their visibility timeout ends",
                extra={"abandoned": len(not_done)},
            )
        pool.shutdown(wait=False, cancel_futures=True)
        return DrainReport(released=len(unstarted), abandoned=len(not_done))


def _change_visibility(sqs: Any, queue_url: str, messages: list[Message], timeout: int) -> set[int]:
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


def _release(sqs: Any, queue_url: str, messages: list[Message]) -> None:
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

    def __init__(self, sqs: Any, queue_url: str, linger_seconds: float) -> None:
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
        entries = [{"Id": str(i), "ReceiptHandle": m.receipt_handle} for i, m in enumerate(batch)]
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
    """Extends the visibility of messages in hand, and renews scale-in protection."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        in_hand: _InHand,
        visibility: int,
        protection: ScaleInProtection,
    ) -> None:
        super().__init__("async-task-heartbeat")
        self._sqs = sqs
        self._queue_url = queue_url
        self._in_hand = in_hand
        self._visibility = visibility
        self._protection = protection
        # Tick often enough to act when half of the visibility timeout is left.
        self._interval = max(0.5, min(visibility / 4, 60.0))

    def run(self) -> None:
        while not self.closed.wait(self._interval):
            try:
                self._tick()
            except Exception as error:
                logger.warning("heartbeat failed", extra={"error": str(error)})

    def _tick(self) -> None:
        # Holding the lock keeps a settling message from having its own visibility
        # change (a retry delay) overwritten by this extension.
        with self._in_hand.lock:
            now = time.monotonic()
            due = [
                e for e in self._in_hand.entries.values() if e.deadline - now < self._visibility / 2
            ]
            messages = [entry.message for entry in due]
            for index in _change_visibility(self._sqs, self._queue_url, messages, self._visibility):
                due[index].deadline = now + self._visibility
            busy = bool(self._in_hand.entries)
        if busy:
            self._protection.hold()
