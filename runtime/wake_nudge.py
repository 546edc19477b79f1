"""The producer's nudge: after a send, invoke the waker so the worker service wakes now.

Asynchronous twice over: ``lambda:Invoke`` with ``InvocationType=Event`` (Lambda queues
the call and answers at once), made from a daemon thread, so an enqueue never waits on
Lambda, even on a slow or failing endpoint. Debounced per process and function: at most
one nudge every :data:`NUDGE_DEBOUNCE_SECONDS`, so a busy web app makes a few calls a
minute, not one per message. A failed nudge is logged and dropped: the message is
already queued, and the backlog metric's wake-up alarm still wakes the service within
a minute or two. A short-lived process (a script that enqueues and exits) waits up to
:data:`EXIT_WAIT_SECONDS` at exit for its nudges to leave, as daemon threads would
otherwise die with it.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError

from runtime.aws_clients import client
from runtime.log import logger

__all__ = ["EXIT_WAIT_SECONDS", "NUDGE_DEBOUNCE_SECONDS", "Nudger", "nudger_for"]

NUDGE_DEBOUNCE_SECONDS: Final = 10.0
"""At most one nudge per process this often. A message enqueued within this long after
a nudge that found the service awake, just as it scaled in to zero, waits for the
alarm path instead: the window is small, and each web-app process has its own clock."""


EXIT_WAIT_SECONDS: Final = 2.0

_IN_FLIGHT: set[threading.Thread] = set()
_IN_FLIGHT_LOCK = threading.Lock()


@atexit.register
def _let_nudges_leave() -> None:
    deadline = time.monotonic() + EXIT_WAIT_SECONDS
    with _IN_FLIGHT_LOCK:
        pending = list(_IN_FLIGHT)
    for thread in pending:
        thread.join(max(0.0, deadline - time.monotonic()))


class Nudger:
    """Invokes one waker function, at most once per ``debounce_seconds``."""

    def __init__(
        self,
        function: str,
        *,
        debounce_seconds: float = NUDGE_DEBOUNCE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.function = function
        self.debounce_seconds = debounce_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._last: float | None = None

    def nudge(self) -> threading.Thread | None:
        """Start one asynchronous invoke unless one started within the debounce window;
        returns its thread (tests join it), or None when debounced."""
        now = self._clock()
        with self._lock:
            if self._last is not None and now - self._last < self.debounce_seconds:
                return None
            self._last = now
        thread = threading.Thread(target=self._invoke, name="wake-nudge", daemon=True)
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.add(thread)
        thread.start()
        return thread

    def _invoke(self) -> None:
        try:
            client("lambda").invoke(
                FunctionName=self.function, InvocationType="Event", Payload=b"{}"
            )
        except (BotoCoreError, ClientError) as error:
            logger.warning(
                "wake nudge failed; the wake-up alarm wakes the service instead",
                extra={"function": self.function, "error": f"{type(error).__name__}: {error}"},
            )
        finally:
            with _IN_FLIGHT_LOCK:
                _IN_FLIGHT.discard(threading.current_thread())


_NUDGERS: dict[str, Nudger] = {}
_NUDGERS_LOCK = threading.Lock()


def nudger_for(function: str) -> Nudger:
    """The process's one nudger for ``function``: the debounce is per process."""
    with _NUDGERS_LOCK:
        found = _NUDGERS.get(function)
        if found is None:
            found = _NUDGERS[function] = Nudger(function)
        return found
