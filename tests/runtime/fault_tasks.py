"""Tasks that bring their fault from the handler side, registered through ASYNC_TASKS_MODULES.

* ``kill-own-process`` counts its attempt in the task table (``attempts#<envelope
  id>``), waits ``after`` seconds (default 0.3, so a neighbour is mid-run) and
  SIGKILLs its process: the poison no ``except`` can catch, like a segfault or the
  OOM killer.
* ``finish-on-signal`` runs until the test sets :data:`FINISH` (in-process consumers
  only), then counts ``finished#<envelope id>``: a task that ends exactly when the
  test wants, e.g. while the heartbeat is busy with another.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Mapping
from typing import Any

from runtime import TaskContext, register
from runtime.aws_clients import client
from tests.runtime.probe_tasks import TABLE_ENV, _add

FAULT_MODULE = "tests.runtime.fault_tasks"
FINISH = threading.Event()


@register("kill-own-process", max_duration_seconds=4)
def kill_own_process(payload: Mapping[str, Any], context: TaskContext) -> None:
    _add(client("dynamodb"), os.environ[TABLE_ENV], f"attempts#{context.envelope_id}")
    time.sleep(float(payload.get("after", 0.3)))
    os.kill(os.getpid(), signal.SIGKILL)


@register("finish-on-signal", max_duration_seconds=4)
def finish_on_signal(payload: Mapping[str, Any], context: TaskContext) -> None:
    FINISH.wait(timeout=float(payload.get("timeout", 30)))
    _add(client("dynamodb"), os.environ[TABLE_ENV], f"finished#{context.envelope_id}")
