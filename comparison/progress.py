"""A progress line on standard error, for runs slower than a second, only on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Call with a message at each step; it draws after ``delay`` seconds, then on every
    call, rewriting one line. ``done`` clears it. Silent when the stream is no terminal."""

    def __init__(self, stream: TextIO | None = None, delay: float = 1.0) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._start = time.monotonic()
        self._delay = delay
        self._drawn = False
        self._enabled = self._stream.isatty()

    def __call__(self, message: str) -> None:
        if not self._enabled or time.monotonic() - self._start < self._delay:
            return
        self._stream.write(f"\r\x1b[Kcompare: {message}")
        self._stream.flush()
        self._drawn = True

    def done(self) -> None:
        if self._drawn:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
