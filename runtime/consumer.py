"""The queue-consuming loop shared by the SQS worker and the embeddable poller.

One receiving thread long-polls (20 s) for as many messages as there are free threads
(at most 10), so a message this consumer cannot start yet stays visible to idle ones.
A thread pool runs the tasks. Around it, each in its own thread so that none waits for
another's network calls:

* the visibility keeper extends the visibility of every message in hand before it
  runs out and abandons a task that runs past its maximum duration, and the lease
  renewer renews each running task's idempotency lease (``runtime.heartbeat``);
* the protection keeper holds ECS scale-in protection while messages are in hand and
  drops it when idle (``runtime.protection``), never on the receive path;
* a deleter thread acknowledges settled messages with DeleteMessageBatch (up to 10,
  after a short linger);
* after ``ASYNC_TASKS_MAX_PROTECTED_SECONDS`` of continuous protection the loop stops
  receiving, finishes what it holds, releases protection and rests, so a deployment
  or scale-in can replace the task; then it receives again;
* on stop, receiving ends, messages not yet started are released at once
  (visibility 0), running ones get until the drain deadline, deletes are flushed and
  scale-in protection is dropped.

Each message in hand has an explicit state (``runtime.in_hand``). At most
``concurrency`` messages are in hand, all of them running.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runtime.dispatcher import Dispatcher, DispatchResult
from runtime.heartbeat import LeaseRenewer, VisibilityKeeper
from runtime.in_hand import SQS_BATCH, Entry, EntryState, InHand
from runtime.log import logger
from runtime.protection import ProtectionKeeper, ScaleInProtection
from runtime.settlement import Message, Settler
from runtime.sqs_calls import Deleter, release, running

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

__all__ = ["ConsumerConfig", "DrainReport", "QueueConsumer", "StopSignal"]

_RECEIVE_ERROR_PAUSE_SECONDS = 2.0
# How long a free thread waits for others to free up before the receive (see
# InHand.wait_for_room): short against a task, long against a no-op handler.
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
        in_hand = InHand()
        pool = ThreadPoolExecutor(self._config.concurrency, thread_name_prefix="async-task")
        deleter = Deleter(self._sqs, self._queue_url, self._config.delete_linger_seconds)
        keeper = ProtectionKeeper(self._protection)
        visibility_keeper = VisibilityKeeper(
            self._sqs,
            self._queue_url,
            in_hand,
            visibility,
            on_abandon=stop.request,
            on_tick=keeper.want,
        )
        # The lease moves with the visibility timeout.
        renewer = LeaseRenewer(in_hand, visibility, renew=self._dispatcher.renew)
        keeper.start()
        try:
            with running(deleter), running(visibility_keeper), running(renewer):
                try:
                    self._receive_until_stopped(stop, in_hand, pool, deleter, keeper, visibility)
                finally:
                    report = self._drain(stop, in_hand, pool)
        finally:
            keeper.close()
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
        in_hand: InHand,
        pool: ThreadPoolExecutor,
        deleter: Deleter,
        keeper: ProtectionKeeper,
        visibility: int,
    ) -> None:
        # Receive only what a free thread can start now: a message waiting in hand
        # here is one an idle consumer elsewhere could be running.
        limit = self._config.concurrency
        while True:
            if self._protection.bound_reached():
                self._step_aside(stop, in_hand, keeper)
            room = in_hand.wait_for_room(limit, stop, _RECEIVE_LINGER_SECONDS)
            if not room:
                return
            # The visibility timeout starts when SQS hands the messages out: at the
            # latest when the call returns, so a time taken before it is safe.
            received_at = time.monotonic()
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
                release(self._sqs, self._queue_url, messages)
                return
            if not messages:
                if not len(in_hand):
                    keeper.want(False)
                continue
            keeper.want(True)
            for message in messages:
                entry = in_hand.add(message, received_at + visibility)
                entry.future = pool.submit(self._process, entry, in_hand, deleter, visibility, stop)

    def _step_aside(self, stop: StopSignal, in_hand: InHand, keeper: ProtectionKeeper) -> None:
        """Let ECS replace this task: finish what is in hand, drop protection, rest."""
        logger.info(
            "scale-in protection reached its bound: finishing the messages in hand, then "
            "releasing protection so a deployment or scale-in may replace this task",
            extra={
                "max_protected_seconds": self._protection.max_protected_seconds,
                "in_hand": in_hand.count(),
            },
        )
        in_hand.wait_until_empty(stop)
        keeper.want(False)
        stop.wait(self._protection.rest_seconds)
        # Even if the agent refused the release, count the next bound from here, not
        # step aside again at once.
        self._protection.restart_bound()

    def _process(
        self,
        entry: Entry,
        in_hand: InHand,
        deleter: Deleter,
        visibility: int,
        stop: StopSignal,
    ) -> None:
        message = entry.message
        started = time.perf_counter()
        try:
            try:
                result = self._dispatcher.dispatch(
                    message.body,
                    attempt=message.receive_count,
                    lease_seconds=visibility,
                    on_claim=lambda claim, spec: in_hand.admit(entry, claim, spec, stop),
                )
            finally:
                in_hand.handler_returned(entry)
            elapsed_ms = (time.perf_counter() - started) * 1000
            # Out of the visibility keeper's hands before any visibility change of ours.
            if not in_hand.change(entry, EntryState.SETTLING):
                in_hand.change(entry, EntryState.DONE)
                _log_late_outcome(message, result, elapsed_ms)
                return
            if self._settler.settle(message, result, elapsed_ms):
                deleter.put(message)
            in_hand.change(entry, EntryState.DONE)
        except BaseException as error:
            # dispatch and settle do not raise; if they ever do, never keep the message
            # in hand (the heartbeat would hide it for as long as this process lives).
            in_hand.change(entry, EntryState.DONE)
            logger.error(
                "message processing failed; its visibility timeout brings it back",
                extra={"message_id": message.message_id, "error": repr(error)},
            )

    def _interrupt(self, entry: Entry) -> None:
        """The process ends with this task: not the task's failure (a deploy's stop)."""
        if entry.claim is None:
            return
        try:
            self._dispatcher.interrupt(entry.claim)
        except Exception as error:
            logger.warning(
                "could not mark the task interrupted; its end counts as a failed attempt",
                extra={"message_id": entry.message.message_id, "error": str(error)},
            )

    def _drain(self, stop: StopSignal, in_hand: InHand, pool: ThreadPoolExecutor) -> DrainReport:
        started = stop.requested_at if stop.requested_at is not None else time.monotonic()
        deadline = started + self._config.drain_seconds
        logger.info("draining", extra={"in_hand": len(in_hand)})
        entries = in_hand.select(frozenset({EntryState.IN_HAND, EntryState.SETTLING}))
        unstarted = [
            e
            for e in entries
            if e.state is EntryState.IN_HAND
            and e.future is not None
            and e.future.cancel()
            and in_hand.change(e, EntryState.RELEASED)
        ]
        release(self._sqs, self._queue_url, [e.message for e in unstarted])
        running_tasks = [
            e.future for e in entries if e.future is not None and not e.future.cancelled()
        ]
        _, not_done = wait(running_tasks, timeout=max(0.0, deadline - time.monotonic()))
        if not_done:
            logger.error(
                "drain deadline reached with tasks still running; their messages return "
                "to the queue when their visibility timeout ends",
                extra={"abandoned": len(not_done)},
            )
        for entry in entries:
            if entry.future in not_done:
                self._interrupt(entry)
        pool.shutdown(wait=False, cancel_futures=True)
        overdue = in_hand.count(frozenset({EntryState.ABANDONED}))
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
