"""One poller per container under gunicorn: a child process started by the master.

In ``gunicorn.conf.py``::

    from runtime.gunicorn_hooks import when_ready, on_exit  # noqa: F401

``when_ready`` (run once, in the master, after it binds) starts
``python -m runtime.worker`` as a child process of the master. Why there:

* a poller inside each gunicorn worker would run one per worker process, die with
  every worker recycle (``max_requests``) and compete with requests for the GIL;
* a thread in the master would make every later ``fork()`` of a worker inherit it
  half-copied (locks held by a thread that does not exist in the child);
* a child process runs the ECS worker's exact code path: signals, drain, logs.

ECS sends SIGTERM to PID 1 only (the gunicorn master), so the hook wraps the master's
``handle_term``/``handle_int``/``handle_quit`` to forward SIGTERM to the poller at
once: it drains in parallel with gunicorn's graceful worker shutdown. ``on_exit``
then waits for it. Keep ``--drain-seconds`` (``ASYNC_TASKS_POLLER_DRAIN_SECONDS``,
default 25) plus gunicorn's ``graceful_timeout`` under the container's stop timeout.

The poller process reads the same environment as the web app, plus
``ASYNC_TASKS_POLLER_CONCURRENCY`` (default 2).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any

from runtime.contract import POLLER_CONCURRENCY_ENV as CONCURRENCY_ENV
from runtime.contract import POLLER_DRAIN_ENV as DRAIN_ENV

__all__ = [
    "CONCURRENCY_ENV",
    "DRAIN_ENV",
    "STOP_PARENT_ENV",
    "on_exit",
    "poller_command",
    "when_ready",
]

_ATTRIBUTE = "async_tasks_poller"
# The master's pid, given to the poller: if the poller fails (a configuration error,
# a task past its maximum duration) it stops the master, so the container exits and
# ECS replaces the task instead of a web app serving on without its poller.
STOP_PARENT_ENV = "ASYNC_TASKS_STOP_PARENT_PID"
# Extra wait in on_exit beyond the drain budget, for the process to flush and exit.
_EXIT_SLACK_SECONDS = 5.0


def poller_command(environ: Mapping[str, str] | None = None) -> list[str]:
    """The child's command line, from the environment."""
    env = os.environ if environ is None else environ
    return [
        sys.executable,
        "-m",
        "runtime.worker",
        "--concurrency",
        env.get(CONCURRENCY_ENV, "2"),
        "--drain-seconds",
        env.get(DRAIN_ENV, "25"),
    ]


def when_ready(server: Any) -> None:
    """gunicorn hook: start the poller process and forward shutdown signals to it."""
    process = subprocess.Popen(
        poller_command(), env={**os.environ, STOP_PARENT_ENV: str(os.getpid())}
    )
    setattr(server, _ATTRIBUTE, process)
    server.log.info("async-task poller started (pid %s)", process.pid)
    for name in ("handle_term", "handle_int", "handle_quit"):
        original = getattr(server, name, None)
        if original is not None:
            setattr(server, name, _forwarding(process, original))


def on_exit(server: Any) -> None:
    """gunicorn hook: wait for the poller to drain; kill it if it overstays."""
    process: subprocess.Popen[bytes] | None = getattr(server, _ATTRIBUTE, None)
    if process is None:
        return
    _terminate(process)
    budget = float(os.environ.get(DRAIN_ENV, "25")) + _EXIT_SLACK_SECONDS
    try:
        code = process.wait(timeout=budget)
    except subprocess.TimeoutExpired:
        process.kill()
        code = process.wait()
    server.log.info("async-task poller exited with %s", code)


def _forwarding(
    process: subprocess.Popen[bytes], original: Callable[[], None]
) -> Callable[[], None]:
    def handle() -> None:
        _terminate(process)
        original()

    return handle


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
