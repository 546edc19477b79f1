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

from runtime.log import logger

__all__ = ["AGENT_URI_ENV", "ScaleInProtection"]

AGENT_URI_ENV = "ECS_AGENT_URI"
# ECS accepts 1..2880 minutes. An hour covers the longest catalogue task (15 min)
# several times over; the hold is renewed when half of it has passed.
DEFAULT_EXPIRES_MINUTES = 60
_RANGE_MINUTES = (1, 2880)
_TIMEOUT_SECONDS = 5


class ScaleInProtection:
    def __init__(
        self,
        agent_uri: str | None,
        *,
        expires_minutes: int = DEFAULT_EXPIRES_MINUTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        low, high = _RANGE_MINUTES
        if not low <= expires_minutes <= high:
            raise ValueError(f"expires_minutes is {expires_minutes}; ECS accepts {low}..{high}")
        self._url = f"{agent_uri.rstrip('/')}/task-protection/v1/state" if agent_uri else None
        self._expires_minutes = expires_minutes
        self._clock = clock
        self._held_since: float | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ScaleInProtection:
        env = os.environ if environ is None else environ
        return cls(env.get(AGENT_URI_ENV) or None)

    @property
    def enabled(self) -> bool:
        return self._url is not None

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

    def release(self) -> None:
        """Let ECS scale the task in again."""
        if self._url is None:
            return
        with self._lock:
            if self._held_since is not None and self._put({"ProtectionEnabled": False}):
                self._held_since = None

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
