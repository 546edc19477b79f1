"""The retry budget: handler attempts, not SQS receives. Pure functions, no boto3.

SQS counts every receive towards ``maxReceiveCount``, including receives that are
not failures: a SIGTERM (deploy) that hands an unstarted message back or abandons a
long task at the drain deadline, a redelivery that finds another consumer's live
lease, a heartbeat that extended visibility too late. With the catalogue's counts of
3, a couple of deploys could dead-letter a healthy task.

So the runtime keeps the budget itself: the idempotency ledger counts *failed handler
attempts*, and the dispatcher dead-letters a task (with the last reason) once it has
failed ``max_attempts`` times (the catalogue's ``max_receive_count``). The queue's
``maxReceiveCount`` becomes a backstop, for messages that never reach a handler
attempt the ledger can count (no ledger at all), and must leave room for the
receives that are not failures. An attempt that ends with its process is counted
when the next claim takes its lapsed lease over (``runtime.idempotency``).
:func:`redrive_max_receive_count` is that one rule; the stacks and the runtime call it.
"""

from __future__ import annotations

__all__ = [
    "INTERRUPTION_ALLOWANCE",
    "SQS_MAX_RECEIVE_COUNT",
    "budget_exhausted",
    "redrive_max_receive_count",
]

# SQS accepts a maxReceiveCount of 1..1000 (RedrivePolicy, "Amazon SQS dead-letter
# queues", SQS Developer Guide).
SQS_MAX_RECEIVE_COUNT = 1000
# Receives per message that are not handler failures and that the backstop must
# survive: each deploy costs at most two (the abandoned or released receive, then one
# redelivery that still finds the dead consumer's lease), so 10 covers five deploys
# while one message is in flight.
INTERRUPTION_ALLOWANCE = 10


def redrive_max_receive_count(
    max_attempts: int, *, interruptions: int = INTERRUPTION_ALLOWANCE
) -> int:
    """The queue's ``maxReceiveCount`` for tasks allowed ``max_attempts`` failed attempts.

    ``max_attempts + interruptions``, within SQS's 1..1000. For a queue shared by
    several tasks, pass the largest ``max_attempts`` among them.
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts is {max_attempts}; use at least 1")
    if interruptions < 0:
        raise ValueError(f"interruptions is {interruptions}; use 0 or more")
    return min(SQS_MAX_RECEIVE_COUNT, max_attempts + interruptions)


def budget_exhausted(failed_attempts: int, max_attempts: int) -> bool:
    """Whether a task that has now failed ``failed_attempts`` times goes to the DLQ."""
    return failed_attempts >= max_attempts
