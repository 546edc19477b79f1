"""ECS task scale-in protection, held while the consumer has messages in hand.

``PUT $ECS_AGENT_URI/task-protection/v1/state`` with ``{"ProtectionEnabled": true,
"ExpiresInMinutes": N}`` and ``{"ProtectionEnabled": false}`` when idle. Without
``ECS_AGENT_URI`` (not on ECS) every call is a no-op. Failures are logged, never
raised: losing protection costs a redelivery, not a message.

What the agent answers ("Protect your Amazon ECS tasks from being terminated by
scale-in events",
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection.html,
and its "Amazon ECS task scale-in protection endpoint" page,
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection-endpoint.html,
read with amazon-ecs-agent's handler, ecs-agent/tmds/handlers/taskprotection/v1/handlers/handlers.go
with its types in ecs-agent/tmds/handlers/taskprotection/v1/types/types.go):

* success: 200, ``{"protection": {"ProtectionEnabled", "ExpirationDate", "TaskArn"}}``;
* ECS refused the update (UpdateTaskProtection returned a failure): **200**, with
  ``{"failure": {"Arn", "Reason", "Detail"}}``. The status alone would call this held;
* errors: 4xx/5xx with ``{"error": {"Arn", "Code", "Message"}, "requestID"?}``.

So a call counts only when the status is 2xx and the body holds neither ``failure`` nor
``error``; anything else is logged with the agent's reason and not held, and the next
``hold()`` tries again.

Two rules keep protection from getting in the way:

* The calls never run on the receive or settle path: :class:`ProtectionKeeper`, a
  thread, applies the state the consumer wants, each call with a short timeout, so an
  agent that accepts and never answers slows nothing but itself.
* Protection has a bound. ECS does not stop a protected task for a deployment or a
  scale-in, so a consumer that always has a message in hand would hold up deployments
  forever. After ``ASYNC_TASKS_MAX_PROTECTED_SECONDS`` (default 900) of continuous
  protection, :meth:`ScaleInProtection.bound_reached` turns True: the consumer stops
  taking messages, finishes what it holds, releases protection and rests a moment
  before taking more, so ECS may replace the task.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from runtime.contract import MAX_PROTECTED_SECONDS_ENV
from runtime.errors import ConfigurationError
from runtime.log import logger

__all__ = [
    "AGENT_URI_ENV",
    "DEFAULT_MAX_PROTECTED_SECONDS",
    "ProtectionKeeper",
    "ScaleInProtection",
]

AGENT_URI_ENV = "ECS_AGENT_URI"
# ECS accepts 1..2880 minutes. An hour covers the longest catalogue task (15 min)
# several times over; the hold is renewed when half of it has passed.
DEFAULT_EXPIRES_MINUTES = 60
_RANGE_MINUTES = (1, 2880)
# The agent is local: a healthy one answers in milliseconds. The calls run off the
# receive path, so a longer wait would only delay the next try.
_TIMEOUT_SECONDS = 2
# 15 minutes: the longest catalogue task fits once, and a deployment waits at most
# this long plus that task for a busy consumer.
DEFAULT_MAX_PROTECTED_SECONDS = 900.0
# How long a consumer stays unprotected and takes nothing after reaching the bound.
# ECS decides when it looks at a task's protection; we cannot see that offline, so
# the rest is long enough for a deployment's next pass to find the task idle and
# short enough to cost little capacity (30 s every 15 minutes: about 3 %).
_MAX_REST_SECONDS = 30.0


class ScaleInProtection:
    def __init__(
        self,
        agent_uri: str | None,
        *,
        expires_minutes: int = DEFAULT_EXPIRES_MINUTES,
        max_protected_seconds: float = DEFAULT_MAX_PROTECTED_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        low, high = _RANGE_MINUTES
        if not low <= expires_minutes <= high:
            raise ValueError(f"expires_minutes is {expires_minutes}; ECS accepts {low}..{high}")
        if not max_protected_seconds > 0:
            raise ValueError(f"max_protected_seconds is {max_protected_seconds}; use more than 0")
        self._url = f"{agent_uri.rstrip('/')}/task-protection/v1/state" if agent_uri else None
        self._expires_minutes = expires_minutes
        self.max_protected_seconds = max_protected_seconds
        self._clock = clock
        self._held_since: float | None = None  # the last successful hold (renewal)
        self._protected_since: float | None = None  # the start of continuous protection
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ScaleInProtection:
        env = os.environ if environ is None else environ
        return cls(
            env.get(AGENT_URI_ENV) or None, max_protected_seconds=_max_protected_seconds(env)
        )

    @property
    def rest_seconds(self) -> float:
        """How long to stay unprotected and idle once the bound is reached."""
        return min(_MAX_REST_SECONDS, self.max_protected_seconds / 10)

    def bound_reached(self) -> bool:
        """Whether protection has been held continuously for ``max_protected_seconds``."""
        with self._lock:
            since = self._protected_since
        return since is not None and self._clock() - since >= self.max_protected_seconds

    @property
    def enabled(self) -> bool:
        return self._url is not None

    def restart_bound(self) -> None:
        """Count continuous protection from now (if still held)."""
        with self._lock:
            if self._protected_since is not None:
                self._protected_since = self._clock()

    def hold(self) -> None:
        """Protect the task, renewing once half the expiry has passed."""
        if self._url is None:
            return
        with self._lock:
            now = self._clock()
            renew_after = self._expires_minutes * 30
            if self._held_since is not None and now - self._held_since < renew_after:
                return
            if self._put({"ProtectionEnabled": True, "ExpiresInMinutes": self._expires_minutes}):
                self._held_since = now
                if self._protected_since is None:
                    self._protected_since = now

    def release(self) -> None:
        """Let ECS scale the task in again."""
        if self._url is None:
            return
        with self._lock:
            if self._held_since is not None and self._put({"ProtectionEnabled": False}):
                self._held_since = self._protected_since = None

    @property
    def held(self) -> bool:
        with self._lock:
            return self._held_since is not None

    def _put(self, body: dict[str, object]) -> bool:
        if self._url is None:  # outside ECS: nothing to protect
            return False
        request = urllib.request.Request(
            self._url,
            data=json.dumps(body).encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            # 4xx/5xx: the agent's body says why (``error``: Code, Message).
            reason = _reason(_json_object(error.read()), f"HTTP {error.code}")
            self._failed(body, reason)
            return False
        except OSError as error:
            self._failed(body, str(error))
            return False
        answer = _json_object(raw)
        if answer is None:
            self._failed(body, f"unreadable agent response {raw[:200]!r}")
            return False
        if "failure" in answer or "error" in answer:
            self._failed(body, _reason(answer, "the agent reported a failure"))
            return False
        return True

    @staticmethod
    def _failed(body: dict[str, object], reason: str) -> None:
        logger.warning(
            f"task scale-in protection call failed: {reason}",
            extra={"protection": body, "error": reason},
        )


def _max_protected_seconds(env: Mapping[str, str]) -> float:
    raw = env.get(MAX_PROTECTED_SECONDS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_PROTECTED_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:  # also refuses NaN
        raise ConfigurationError(
            f"{MAX_PROTECTED_SECONDS_ENV}={raw}: not a positive number of seconds; set it "
            f"to the longest continuous scale-in protection (default "
            f"{DEFAULT_MAX_PROTECTED_SECONDS:.0f}) or unset it"
        )
    return seconds


class ProtectionKeeper(threading.Thread):
    """Applies the protection the consumer wants, off its receive and settle paths.

    ``want(True)`` / ``want(False)`` return at once; this thread holds (and renews) or
    releases. A failed call is tried again after ``retry_seconds``.
    """

    def __init__(self, protection: ScaleInProtection, *, retry_seconds: float = 1.0) -> None:
        super().__init__(name="async-task-protection", daemon=True)
        self._protection = protection
        self._retry = retry_seconds
        self._wanted = False
        self._changed = threading.Event()
        self._closed = threading.Event()

    def want(self, held: bool) -> None:
        if held != self._wanted:
            self._wanted = held
            self._changed.set()

    def close(self) -> None:
        self._closed.set()
        self._changed.set()
        self.join()

    def run(self) -> None:
        while not self._closed.is_set():
            self._changed.clear()
            try:
                if self._wanted:
                    self._protection.hold()  # renews once half the expiry has passed
                else:
                    self._protection.release()
            except Exception as error:  # never let the thread die
                logger.warning("scale-in protection failed", extra={"error": str(error)})
            settled = self._protection.held == self._wanted
            self._changed.wait(self._retry * (30 if settled else 1))


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _reason(answer: dict[str, Any] | None, default: str) -> str:
    """The agent's reason: ``failure`` (Reason, Detail) or ``error`` (Code, Message)."""
    if not answer:
        return default
    for section, fields in (("failure", ("Reason", "Detail")), ("error", ("Code", "Message"))):
        value = answer.get(section)
        if isinstance(value, dict):
            text = ": ".join(str(value[f]) for f in fields if value.get(f))
            return f"{section} {text or json.dumps(value)}"
        if value:
            return f"{section} {value}"
    return default
