"""A token bucket: at most ``rate`` recipients per second, in bursts up to ``capacity``.

SES meters its maximum send rate in recipients, not calls, so a call to N
destinations takes N tokens. The clock and sleep are injected so tests need no
real waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["TokenBucket"]


class TokenBucket:
    def __init__(
        self,
        rate: float,
        capacity: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError(f"rate must be > 0 and capacity >= 1, got {rate} and {capacity}")
        self._rate = rate
        self._capacity = capacity
        self._clock = clock
        self._sleep = sleep
        self._tokens = capacity
        self._updated = clock()

    def acquire(self, tokens: int) -> None:
        """Block until ``tokens`` (at most ``capacity``) are available, then take them."""
        if tokens > self._capacity:
            raise ValueError(f"cannot take {tokens} tokens at once; capacity is {self._capacity}")
        while True:
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            if self._tokens >= tokens:
                self._tokens -= tokens
                return
            self._sleep((tokens - self._tokens) / self._rate)
