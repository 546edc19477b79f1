"""The queue poller embedded in a web-app process (the ``webapp-poller`` topology).

The same loop as ``python -m runtime.worker``, run in a background thread::

    with run_poller(queue_url, concurrency=2):
        serve_forever()

    handle = start_poller(queue_url)
    ...
    handle.stop(timeout=25)

Under a pre-forking server (gunicorn) start exactly one poller per container from the
master with :mod:`runtime.gunicorn_hooks`, not one per worker process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from runtime.consumer import ConsumerConfig, DrainReport, StopSignal
from runtime.consumer_factory import prepare_consumer
from runtime.errors import ConfigurationError
from runtime.producer import QUEUE_URL_ENV
from runtime.settlement import Backoff

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_sqs.client import SQSClient

__all__ = ["PollerHandle", "run_poller", "start_poller"]


class PollerHandle:
    """A running poller. ``stop`` drains it; the handle is also a context manager."""

    def __init__(self, thread: threading.Thread, stop_signal: StopSignal) -> None:
        self._thread = thread
        self._stop = stop_signal
        self.report: DrainReport | None = None
        self.error: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float | None = None) -> DrainReport | None:
        """Request a stop and wait up to ``timeout`` s; None if still draining then."""
        self._stop.request()
        self._thread.join(timeout)
        return None if self._thread.is_alive() else self.report

    def __enter__(self) -> PollerHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_poller(
    queue_url: str | None = None,
    *,
    concurrency: int = 2,
    tasks_modules: Iterable[str] = (),
    drain_seconds: float = 25.0,
    wait_seconds: int = 20,
    idempotency: bool = True,
    backoff: Backoff | None = None,
    environ: Mapping[str, str] | None = None,
    sqs: SQSClient | None = None,
    dynamodb: DynamoDBClient | None = None,
) -> PollerHandle:
    """Start consuming ``queue_url`` (default ``$ASYNC_TASKS_QUEUE_URL``) in a daemon thread.

    Configuration errors raise here, in the caller's thread. A service that is
    throttling or failing at start-up does not: the poller's thread retries the
    start-up checks with backoff and starts consuming once they pass, so the web app
    starts either way. The default concurrency (2) and drain (25 s) leave the web app
    its CPU and its own shutdown time.
    """
    env = os.environ if environ is None else environ
    url = queue_url or env.get(QUEUE_URL_ENV)
    if not url:
        raise ConfigurationError(f"pass queue_url or set {QUEUE_URL_ENV}")
    prepared = prepare_consumer(
        url,
        config=ConsumerConfig(
            concurrency=concurrency, wait_seconds=wait_seconds, drain_seconds=drain_seconds
        ),
        tasks_modules=tasks_modules,
        idempotency=idempotency,
        backoff=backoff,
        environ=env,
        sqs=sqs,
        dynamodb=dynamodb,
    )
    # The first attempt here, so a wrong table or queue raises in the caller's thread.
    prepared.preflight.attempt()
    stop_signal = StopSignal()

    def target() -> None:
        try:
            if not prepared.preflight.wait(stop_signal):
                handle.report = DrainReport(released=0, abandoned=0)
                return
            handle.report = prepared.consumer().run(stop_signal)
        except BaseException as error:
            handle.error = error
            raise

    thread = threading.Thread(target=target, name="async-task-poller", daemon=True)
    handle = PollerHandle(thread, stop_signal)
    thread.start()
    return handle


@contextmanager
def run_poller(queue_url: str | None = None, **options: Any) -> Iterator[PollerHandle]:
    """``start_poller`` for a ``with`` block; leaving the block drains the poller."""
    handle = start_poller(queue_url, **options)
    try:
        yield handle
    finally:
        handle.stop()
