"""Runs accepted envelopes in-process on a bounded pool: the private endpoints' engine.

Work in flight is not durable, as the ADR says of this option: the caller was answered
202 before the task ran, so nothing redelivers a task lost in a crash, a deploy or a
scale-in. At a normal shutdown (gunicorn's SIGTERM to the worker) an ``atexit`` hook
stops admission, warns about the tasks still accepted and gives them up to
``drain_seconds`` to finish, then logs the ones that are lost.

The threads are daemons, started on the first task (after gunicorn's fork), so that
the hook, not the interpreter's join of non-daemon threads, decides how long the
process waits; gunicorn's ``--graceful-timeout`` must exceed ``drain_seconds``.
"""

from __future__ import annotations

import atexit
import itertools
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from runtime.contract import ENDPOINT_BACKLOG_ENV as BACKLOG_ENV
from runtime.contract import ENDPOINT_CONCURRENCY_ENV as CONCURRENCY_ENV
from runtime.contract import ENDPOINT_DRAIN_ENV as DRAIN_ENV
from runtime.dispatcher import Dispatcher, Outcome
from runtime.envelope import Envelope
from runtime.errors import ConfigurationError, TaskInProgressError, TaskRuntimeError
from runtime.log import logger

__all__ = [
    "BACKLOG_ENV",
    "CONCURRENCY_ENV",
    "DRAIN_ENV",
    "RunnerBusyError",
    "RunnerSettings",
    "TaskRunner",
]

# Under the endpoint service's --graceful-timeout of 100 s (and Fargate's 120 s stop
# timeout), so the lost-task log line is written before gunicorn kills the worker.
DEFAULT_DRAIN_SECONDS = 90.0
DEFAULT_CONCURRENCY = 4
_T = TypeVar("_T")
_D = TypeVar("_D")


class RunnerBusyError(TaskRuntimeError):
    """The pool and its backlog are full, or the process is shutting down: retry later."""


@dataclass(frozen=True, kw_only=True)
class RunnerSettings:
    """Pool size, waiting room and shutdown budget, per gunicorn worker process.

    Default: 4 threads, a backlog of as many again (at most 8 tasks accepted and not
    finished, like the queue consumer's two batches in hand), 90 s to drain.
    """

    concurrency: int = DEFAULT_CONCURRENCY
    backlog: int | None = None
    drain_seconds: float = DEFAULT_DRAIN_SECONDS

    def __post_init__(self) -> None:
        problems = []
        if self.concurrency < 1:
            problems.append(f"{CONCURRENCY_ENV} is {self.concurrency}; use at least 1")
        if self.backlog is not None and self.backlog < 0:
            problems.append(f"{BACKLOG_ENV} is {self.backlog}; use 0 or more")
        if not 0 <= self.drain_seconds < float("inf"):
            problems.append(f"{DRAIN_ENV} is {self.drain_seconds}; use 0 or more seconds")
        if problems:
            raise ConfigurationError("invalid endpoint settings: " + "; ".join(problems))

    @property
    def capacity(self) -> int:
        """Tasks accepted and not finished (running or waiting) beyond which a POST gets 503."""
        return self.concurrency + (self.concurrency if self.backlog is None else self.backlog)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RunnerSettings:
        env = os.environ if environ is None else environ
        return cls(
            concurrency=_parsed(env, CONCURRENCY_ENV, int, DEFAULT_CONCURRENCY),
            backlog=_parsed(env, BACKLOG_ENV, int, None),
            drain_seconds=_parsed(env, DRAIN_ENV, float, DEFAULT_DRAIN_SECONDS),
        )


def _parsed(
    env: Mapping[str, str], name: str, convert: Callable[[str], _T], default: _D
) -> _T | _D:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return convert(raw)
    except ValueError:
        raise ConfigurationError(
            f"{name} must be {'an integer' if convert is int else 'a number'}, got {raw!r}"
        ) from None


@dataclass(frozen=True)
class _Job:
    sequence: int
    envelope: Envelope
    body: bytes
    accepted_at: float = field(default_factory=time.monotonic)


class TaskRunner:
    """A bounded pool of daemon threads running envelopes through a :class:`Dispatcher`."""

    def __init__(self, dispatcher: Dispatcher, settings: RunnerSettings | None = None) -> None:
        self._dispatcher = dispatcher
        self._settings = settings if settings is not None else RunnerSettings()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._changed = threading.Condition()
        self._unfinished: dict[int, _Job] = {}
        self._running: set[int] = set()
        self._threads: list[threading.Thread] = []
        self._sequence = itertools.count()
        self._closing = False

    def submit(self, envelope: Envelope, body: bytes) -> None:
        """Accept a task to run soon; raises RunnerBusyError when full or shutting down."""
        with self._changed:
            if self._closing:
                raise RunnerBusyError("the endpoint is shutting down; send the task elsewhere")
            if len(self._unfinished) >= self._settings.capacity:
                raise RunnerBusyError(
                    f"the endpoint is busy: {len(self._running)} task(s) running and "
                    f"{len(self._unfinished) - len(self._running)} waiting; retry later"
                )
            self._start_threads()
            job = _Job(next(self._sequence), envelope, body)
            self._unfinished[job.sequence] = job
        self._jobs.put(job)

    def drain(self, timeout: float) -> int:
        """Stop accepting and wait up to ``timeout`` s; returns the tasks still unfinished."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._closing = True
            if self._unfinished:
                logger.warning(
                    "shutting down with tasks accepted and not finished; waiting for them",
                    extra={"tasks": self._describe(), "drain_seconds": timeout},
                )
            while self._unfinished and (remaining := deadline - time.monotonic()) > 0:
                self._changed.wait(remaining)
            lost = self._describe()
        if lost:
            logger.error(
                "tasks lost at shutdown: they were accepted (202) and nothing will retry them",
                extra={"tasks": lost},
            )
        return len(lost)

    def close(self, timeout: float = 5.0) -> int:
        """Drain, then stop the threads (tests; the process uses the atexit hook)."""
        atexit.unregister(self._drain_at_exit)
        lost = self.drain(timeout)
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(max(0.0, timeout))
        return lost

    def _start_threads(self) -> None:
        if self._threads:
            return
        for index in range(self._settings.concurrency):
            thread = threading.Thread(
                target=self._work, name=f"async-task-endpoint-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        atexit.register(self._drain_at_exit)

    def _drain_at_exit(self) -> None:
        self.drain(self._settings.drain_seconds)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            with self._changed:
                self._running.add(job.sequence)
            try:
                self._run(job)
            except Exception:
                # The dispatcher never raises; this keeps the thread alive if logging does.
                logger.exception("endpoint task runner error", extra={"id": job.envelope["id"]})
            finally:
                with self._changed:
                    self._running.discard(job.sequence)
                    del self._unfinished[job.sequence]
                    self._changed.notify_all()

    def _run(self, job: _Job) -> None:
        started = time.monotonic()
        # attempt=1: the endpoint never retries; a repeated POST is a new delivery.
        result = self._dispatcher.dispatch(job.body, attempt=1)
        fields = {
            "task": job.envelope["task"],
            "id": job.envelope["id"],
            "waited_ms": round((started - job.accepted_at) * 1000, 1),
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
        }
        if result.outcome in (Outcome.SUCCEEDED, Outcome.DUPLICATE):
            logger.info("endpoint task finished", extra={**fields, "outcome": result.outcome.value})
            return
        if isinstance(result.error, TaskInProgressError):
            # Another endpoint task holds the idempotency lease: it is running it.
            logger.info("endpoint task finished", extra={**fields, "outcome": "running-elsewhere"})
            return
        # There is no queue to retry from or DLQ to keep it: the log line is the record.
        logger.error(
            "endpoint task failed; nothing retries it",
            extra={
                **fields,
                "outcome": "failed",
                "permanent": result.outcome is Outcome.DEAD_LETTER,
                "reason": result.reason,
            },
        )

    def _describe(self) -> list[dict[str, object]]:
        return [
            {
                "task": job.envelope["task"],
                "id": job.envelope["id"],
                "started": job.sequence in self._running,
            }
            for job in self._unfinished.values()
        ]
