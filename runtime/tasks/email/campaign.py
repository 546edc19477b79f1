"""Send one campaign's recipients: ledger check, suppression check, claim, rate limit,
SES, settle.

Each batch goes through the same steps, so a chunk processed twice, or a list that
names an address twice, mails nobody twice (see ``_email_ledger`` for the
at-most-once rule).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Protocol

from runtime.tasks.email.ledger import CampaignLedger, Delivery, DeliveryStatus
from runtime.tasks.email.recipients import Recipient, is_valid_address
from runtime.tasks.email.ses import (
    EmailDeferredError,
    EmailSandboxError,
    SesBatchSender,
    SesRefusedError,
)

__all__ = ["CampaignSender", "RateLimiter"]


class RateLimiter(Protocol):
    def acquire(self, tokens: int) -> None: ...


INVALID_ADDRESS = "invalid address syntax"
SUPPRESSED_PREFIX = "address suppressed"


class CampaignSender:
    def __init__(
        self,
        ledger: CampaignLedger,
        ses: SesBatchSender,
        limiter: RateLimiter,
        *,
        batch_size: int,
    ) -> None:
        self._ledger = ledger
        self._ses = ses
        self._limiter = limiter
        self._batch_size = batch_size

    def send(self, recipients: Iterable[Recipient]) -> Counter[str]:
        """Mail every recipient not yet in the ledger; returns counts by outcome.

        Raises EmailDeferredError (transient) when SES defers some; what was settled
        before stays settled, so the retry carries on where this run stopped.
        """
        counts: Counter[str] = Counter()
        for batch in _batches(_unique(recipients), self._batch_size):
            fresh = self._ledger.unseen(batch)
            counts["already_handled"] += len(batch) - len(fresh)
            unsendable = self._unsendable(fresh)
            self._ledger.settle(unsendable)
            counts.update(d.status.value for d in unsendable)
            skipped = {d.recipient.key for d in unsendable}
            mailable = [r for r in fresh if r.key not in skipped]
            claimed = self._ledger.claim(mailable)
            counts["already_handled"] += len(mailable) - len(claimed)
            if claimed:
                counts.update(d.status.value for d in self._send_claimed(claimed))
        return counts

    def _unsendable(self, fresh: list[Recipient]) -> list[Delivery]:
        """Invalid addresses (rejected) and suppressed ones: settled without an SES call."""
        invalid = [r for r in fresh if not is_valid_address(r.address)]
        valid = [r for r in fresh if is_valid_address(r.address)]
        suppressed = self._ledger.suppressed(valid)
        return [Delivery(r, DeliveryStatus.REJECTED, INVALID_ADDRESS) for r in invalid] + [
            Delivery(r, DeliveryStatus.SUPPRESSED, f"{SUPPRESSED_PREFIX}: {suppressed[r.key]}")
            for r in valid
            if r.key in suppressed
        ]

    def _send_claimed(self, claimed: list[Recipient]) -> list[Delivery]:
        self._limiter.acquire(len(claimed))
        try:
            deliveries = self._ses.send(claimed)
        except EmailSandboxError as error:
            # Verified addresses were mailed even so: record them, free the others.
            self._ledger.settle(error.settled)
            mailed = {d.recipient.key for d in error.settled}
            self._ledger.release(r for r in claimed if r.key not in mailed)
            raise
        except SesRefusedError:
            self._ledger.release(claimed)
            raise
        # Any other exception (a timeout, a crash) leaves the claims: at most once.
        deferred = [d for d in deliveries if d.status is DeliveryStatus.RETRY]
        self._ledger.settle(d for d in deliveries if d.status is not DeliveryStatus.RETRY)
        if deferred:
            self._ledger.release(d.recipient for d in deferred)
            raise EmailDeferredError(
                f"SES deferred {len(deferred)} of {len(claimed)} recipients "
                f"(first: {deferred[0].detail}); the retry sends them"
            )
        return deliveries


def _unique(recipients: Iterable[Recipient]) -> Iterator[Recipient]:
    """The first occurrence of each normalised address (callers pass one chunk at most)."""
    seen: set[str] = set()
    for recipient in recipients:
        if recipient.key not in seen:
            seen.add(recipient.key)
            yield recipient


def _batches(recipients: Iterator[Recipient], size: int) -> Iterator[list[Recipient]]:
    while batch := list(islice(recipients, size)):
        yield batch
