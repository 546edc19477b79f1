"""A task that ends its own process, registered through ASYNC_TASKS_MODULES.

``kill-own-process`` counts its attempt in the task table (``attempts#<envelope id>``),
waits ``after`` seconds (default 0.3, so a neighbour is mid-run) and SIGKILLs its
process: the poison no ``except`` can catch, like a segfault or the OOM killer.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Mapping
from typing import Any

from runtime import TaskContext, register
from runtime.aws_clients import client
from tests.runtime.probe_tasks import TABLE_ENV, _add

KILLER_MODULE = "tests.runtime.killer_tasks"


@register("kill-own-process", max_duration_seconds=4)
def kill_own_process(payload: Mapping[str, Any], context: TaskContext) -> None:
    _add(client("dynamodb"), os.environ[TABLE_ENV], f"attempts#{context.envelope_id}")
    time.sleep(float(payload.get("after", 0.3)))
    os.kill(os.getpid(), signal.SIGKILL)
