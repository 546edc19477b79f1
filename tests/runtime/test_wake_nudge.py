"""The producer's nudge of the waker, against a real local server playing Lambda's Invoke.

Lambda's Invoke API ("Invoke", AWS Lambda API Reference): ``POST
/2015-03-31/functions/{FunctionName}/invocations`` with ``X-Amz-Invocation-Type:
Event`` queues the call and answers 202. boto3 sends Lambda calls to
``AWS_ENDPOINT_URL_LAMBDA`` ("Service-specific endpoints", AWS SDKs and Tools Reference
Guide), so the server below stands in for Lambda while moto's server plays SQS.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from runtime.producer import enqueue, enqueue_batch
from runtime.wake_nudge import NUDGE_DEBOUNCE_SECONDS, Nudger
from tests.runtime.helpers import REPO, QueuePair, receive_all, wait_until

INVOKE_PATH = "/2015-03-31/functions/{}/invocations"


@dataclass
class FakeLambda:
    """What the Invoke endpoint saw; ``release`` lets held answers go."""

    url: str
    invocations: list[tuple[str, str | None]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    seen: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def fake_lambda(monkeypatch: pytest.MonkeyPatch, aws_env: dict[str, str]) -> Iterator[FakeLambda]:
    state = FakeLambda(url="")

    class Invoke(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            state.invocations.append((self.path, self.headers.get("X-Amz-Invocation-Type")))
            state.seen.set()
            state.release.wait(30)  # hold the answer: a slow Lambda endpoint
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Invoke)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", state.url)
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


def _unique_function() -> str:
    # nudgers are per process and function: a fresh name has a fresh debounce clock
    return f"waker-{time.monotonic_ns()}"


def test_an_enqueue_returns_before_lambda_answers_the_nudge(
    fake_lambda: FakeLambda,
    make_queue: Callable[..., QueuePair],
    sqs: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queue, function = make_queue(), _unique_function()
    monkeypatch.setenv("ASYNC_TASKS_QUEUE_URL", queue.url)
    monkeypatch.setenv("ASYNC_TASKS_WAKER_FUNCTION", function)

    enqueue("generate-report", {"period": "d"})
    # enqueue has returned; the endpoint holds its answer until released
    assert fake_lambda.seen.wait(10), "no Invoke reached the Lambda endpoint"
    assert not fake_lambda.release.is_set()
    assert fake_lambda.invocations == [(INVOKE_PATH.format(function), "Event")]
    assert len(receive_all(sqs, queue.url)) == 1


def test_a_burst_of_enqueues_nudges_once_per_debounce_window(
    fake_lambda: FakeLambda,
    make_queue: Callable[..., QueuePair],
    sqs: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_lambda.release.set()
    queue = make_queue()
    monkeypatch.setenv("ASYNC_TASKS_QUEUE_URL", queue.url)
    monkeypatch.setenv("ASYNC_TASKS_WAKER_FUNCTION", _unique_function())

    for n in range(5):
        enqueue("generate-report", {"period": f"d{n}"})
    enqueue_batch("generate-report", [{"period": f"b{n}"} for n in range(12)])

    assert fake_lambda.seen.wait(10)
    time.sleep(0.5)  # any second nudge would have arrived by now
    assert len(fake_lambda.invocations) == 1
    assert len(receive_all(sqs, queue.url)) == 17


def test_nudges_resume_after_the_debounce_window() -> None:
    now = [100.0]
    nudger = Nudger("waker", clock=lambda: now[0])
    nudger._invoke = lambda: None  # type: ignore[method-assign]  # the window, not the call
    assert nudger.nudge() is not None
    now[0] += NUDGE_DEBOUNCE_SECONDS - 0.1
    assert nudger.nudge() is None
    now[0] += 0.1
    assert nudger.nudge() is not None


def test_no_waker_variable_means_no_nudge(
    fake_lambda: FakeLambda, make_queue: Callable[..., QueuePair], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASYNC_TASKS_QUEUE_URL", make_queue().url)
    enqueue("generate-report", {"period": "d"})
    time.sleep(0.3)
    assert fake_lambda.invocations == []


def test_a_lambda_endpoint_that_is_down_loses_the_nudge_not_the_message(
    aws_env: dict[str, str],
    make_queue: Callable[..., QueuePair],
    sqs: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = make_queue()
    monkeypatch.setenv("ASYNC_TASKS_QUEUE_URL", queue.url)
    monkeypatch.setenv("ASYNC_TASKS_WAKER_FUNCTION", _unique_function())
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9")  # nothing listens
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")

    with caplog.at_level(logging.WARNING):
        envelope_id = enqueue("generate-report", {"period": "d"})
        wait_until(lambda: "wake nudge failed" in caplog.text, 30, "the nudge's warning")
    assert envelope_id
    assert len(receive_all(sqs, queue.url)) == 1


def test_a_script_that_enqueues_and_exits_at_once_still_sends_its_nudge(
    fake_lambda: FakeLambda,
    make_queue: Callable[..., QueuePair],
    aws_env: dict[str, str],
) -> None:
    fake_lambda.release.set()
    env = {
        **os.environ,
        **aws_env,
        "PYTHONPATH": str(REPO),
        "ASYNC_TASKS_QUEUE_URL": make_queue().url,
        "ASYNC_TASKS_WAKER_FUNCTION": "waker",
        "AWS_ENDPOINT_URL_LAMBDA": fake_lambda.url,
    }
    code = "from runtime.producer import enqueue; enqueue('generate-report', {'period': 'd'})"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # the process has exited: its nudge left before it did (the daemon thread would not)
    assert fake_lambda.invocations == [(INVOKE_PATH.format("waker"), "Event")]
