"""Shifts this process's wall clock by ``TEST_CLOCK_OFFSET_SECONDS`` (a skewed host).

A worker subprocess whose PYTHONPATH starts with this directory imports it at start-up
(``site`` imports ``sitecustomize``), before any runtime module. Only ``time.time`` is
shifted: it is what a host's clock skew changes for the runtime (the ledger's wall
clock), while each host's monotonic clock, which a skewed wall clock leaves alone,
keeps running true. Patching in the subprocess, not in the test, keeps the runtime
under test unmodified and the two workers' clocks really different.
"""

from __future__ import annotations

import os
import time

_offset = float(os.environ.get("TEST_CLOCK_OFFSET_SECONDS", "0") or 0)
if _offset:
    _true_time = time.time

    def _skewed_time() -> float:
        return _true_time() + _offset

    time.time = _skewed_time
