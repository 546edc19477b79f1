"""ECS task scale-in protection, held while the consumer has messages in hand.

``PUT $ECS_AGENT_URI/task-protection/v1/state`` with ``{"ProtectionEnabled": true,
"ExpiresInMinutes": N}`` and ``{"ProtectionEnabled": false}`` when idle. Without
``ECS_AGENT_URI`` (not on ECS) every call is a no-op. Failures are logged, never
raised: losing protection costs a redelivery, not a message.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping

from runtime._log import logger

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
        assert self._url is not None
        request = urllib.request.Request(
            self._url,
            data=json.dumps(body).encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:
                response.read()
            return True
        except OSError as error:
            logger.warning(
                "task scale-in protection call failed",
                extra={"protection": body, "error": str(error)},
            )
            return False
