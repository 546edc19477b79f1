"""The embeddable poller and the gunicorn hooks that run one per container."""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
from collections.abc import Callable
from typing import Any

import pytest

from runtime import gunicorn_hooks
from runtime.consumer import DrainReport
from runtime.envelope import encode, new_envelope
from runtime.errors import ConfigurationError
from runtime.poller import run_poller, start_poller
from tests.runtime.helpers import REPO, QueuePair, queue_depth, wait_until
from tests.runtime.probe_tasks import counter


def _send(sqs: Any, queue: QueuePair, count: int) -> None:
    for n in range(count):
        sqs.send_message(QueueUrl=queue.url, MessageBody=encode(new_envelope("probe", {"n": n})))


@pytest.mark.slow  # long: a real poller thread on the moto server, drained on exit (~1.5 s)
def test_run_poller_consumes_in_the_background_and_drains_on_exit(
    sqs: Any, dynamodb: Any, make_queue: Callable[..., QueuePair], probe_env: str
) -> None:
    queue = make_queue()
    _send(sqs, queue, 5)
    with run_poller(queue.url, wait_seconds=1) as poller:
        wait_until(lambda: counter(dynamodb, probe_env, "applications") == 5, 30, "5 tasks")
        assert poller.running
    assert not poller.running
    assert poller.report == DrainReport(released=0, abandoned=0)
    assert queue_depth(sqs, queue.url) == 0


@pytest.mark.slow  # long: a real poller thread on the moto server, drained on exit (~1.5 s)
def test_start_poller_reads_the_queue_from_the_environment_and_stops_on_request(
    sqs: Any,
    dynamodb: Any,
    make_queue: Callable[..., QueuePair],
    probe_env: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queue = make_queue()
    monkeypatch.setenv("ASYNC_TASKS_QUEUE_URL", queue.url)
    handle = start_poller(wait_seconds=1)
    _send(sqs, queue, 3)
    wait_until(lambda: counter(dynamodb, probe_env, "applications") == 3, 30, "3 tasks")
    assert handle.stop(timeout=10) == DrainReport(released=0, abandoned=0)
    assert handle.error is None


def test_start_poller_reports_configuration_errors_in_the_callers_thread(
    aws_env: dict[str, str],
) -> None:
    with pytest.raises(ConfigurationError, match=r"pass queue_url or set ASYNC_TASKS_QUEUE_URL"):
        start_poller()
    with pytest.raises(ConfigurationError, match=r"ASYNC_TASKS_TABLE is not set"):
        start_poller("http://127.0.0.1:1/q")


class _FakeArbiter:
    """The parts of gunicorn's Arbiter the hooks use."""

    def __init__(self) -> None:
        self.log = logging.getLogger("fake-gunicorn")
        self.terms = 0

    def handle_term(self) -> None:
        self.terms += 1


@pytest.mark.slow  # process: a real poller subprocess
def test_gunicorn_hooks_run_one_poller_process_and_forward_sigterm(
    sqs: Any,
    dynamodb: Any,
    make_queue: Callable[..., QueuePair],
    probe_env: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the master's when_ready hook started the poller process
    queue = make_queue()
    monkeypatch.setenv("ASYNC_TASKS_QUEUE_URL", queue.url)
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.chdir(REPO)
    arbiter = _FakeArbiter()
    gunicorn_hooks.when_ready(arbiter)
    process: subprocess.Popen[bytes] = arbiter.async_tasks_poller  # type: ignore[attr-defined]
    _send(sqs, queue, 3)
    wait_until(lambda: counter(dynamodb, probe_env, "applications") == 3, 60, "3 tasks")
    # WHEN ECS stops the container: SIGTERM reaches the master only
    arbiter.handle_term()
    # THEN the master's own handling still runs, the poller got SIGTERM and drains
    assert arbiter.terms == 1
    assert process.wait(30) == 0
    gunicorn_hooks.on_exit(arbiter)  # waits for an exited poller without error


@pytest.mark.slow  # process: a real poller subprocess
def test_a_failed_poller_stops_the_gunicorn_master(
    make_queue: Callable[..., QueuePair], probe_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a misconfigured table, and this process standing in for the master
    monkeypatch.setenv("ASYNC_TASKS_QUEUE_URL", make_queue().url)
    monkeypatch.setenv("ASYNC_TASKS_TABLE", "no-such-table")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.chdir(REPO)
    stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        arbiter = _FakeArbiter()
        gunicorn_hooks.when_ready(arbiter)
        process: subprocess.Popen[bytes] = arbiter.async_tasks_poller  # type: ignore[attr-defined]
        # WHEN the poller fails at start-up, THEN it exits 2 and SIGTERMs the master, so
        # the container stops and ECS replaces it (no web app left without its poller)
        assert process.wait(60) == 2
        assert stopped.wait(10)
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_gunicorn_poller_command_is_the_worker_with_its_own_settings() -> None:
    command = gunicorn_hooks.poller_command(
        {"ASYNC_TASKS_POLLER_CONCURRENCY": "3", "ASYNC_TASKS_POLLER_DRAIN_SECONDS": "20"}
    )
    assert command[1:] == ["-m", "runtime.worker", "--concurrency", "3", "--drain-seconds", "20"]


def test_on_exit_without_a_poller_does_nothing() -> None:
    arbiter = _FakeArbiter()
    gunicorn_hooks.on_exit(arbiter)
    assert not hasattr(arbiter, "async_tasks_poller")
