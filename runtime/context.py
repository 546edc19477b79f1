"""What a handler is given besides its payload: the delivery's identity and its ledger.

A module of its own, so the registry (which types handlers) and the dispatcher (which
builds contexts and calls handlers) do not import each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["TaskContext"]


@dataclass(frozen=True, kw_only=True)
class TaskContext:
    """What a handler knows about the delivery besides its payload."""

    task: str
    envelope_id: str
    idempotency_key: str
    attempt: int
    created_at: str
    trace: str | None
    _completion: Callable[[], dict[str, Any] | None]

    def ledger_completion(self) -> dict[str, Any] | None:
        """A ``TransactWriteItems`` entry marking this delivery done (None without a ledger).

        Add it to the transaction that writes the handler's effect, and the effect and
        the ledger commit together: a crash can then never apply the effect twice.
        """
        return self._completion()
