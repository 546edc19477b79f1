"""One SES send rate for the whole account: a token bucket in the task table.

SES meters its maximum send rate per account and region, in recipients, not calls
("Service quotas in Amazon SES"): a call to N destinations takes N tokens. Every
process that sends (each worker thread, poller and Lambda invocation) takes its tokens
from one item, ``pk = "ses-rate#<region>"``, with conditional writes, so together they
keep to the rate whatever the concurrency.

The bucket refills on the writers' wall clocks. A host whose clock runs ahead by
``s`` seconds can add at most ``s * rate`` tokens once, never beyond the bucket's
capacity: skew lets at most one extra burst through, and SES's own throttling (which
defers the chunk, see ``ses.py``) is the backstop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from runtime.contract import DEFAULT_EMAIL_MAX_PER_SECOND
from runtime.contract.storage import SES_RATE_PK_PREFIX, SES_RATE_SK
from runtime.log import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_ses.client import SESClient

__all__ = ["AccountTokenBucket", "SendQuota", "account_rate", "read_send_quota"]

# The sandbox's quota ("Service quotas in Amazon SES"): 1 message a second, 200 a day.
_SANDBOX_RATE = 1.0
_SANDBOX_DAILY = 200.0


@dataclass(frozen=True)
class SendQuota:
    """The account's SES quota in this region, from GetSendQuota."""

    max_send_rate: float
    max_24_hour_send: float

    @property
    def looks_sandboxed(self) -> bool:
        """The sandbox's figures. GetSendQuota does not say so outright; SES's answer to
        an unverified recipient does (``ses.EmailSandboxError``)."""
        return self.max_send_rate <= _SANDBOX_RATE and self.max_24_hour_send <= _SANDBOX_DAILY


def read_send_quota(ses: SESClient) -> SendQuota | None:
    """GetSendQuota, or None (with a warning) when it cannot be read."""
    try:
        answer = ses.get_send_quota()
    except (ClientError, BotoCoreError) as error:
        logger.warning(
            "cannot read the SES sending quota; using ASYNC_TASKS_EMAIL_MAX_PER_SECOND or "
            f"{DEFAULT_EMAIL_MAX_PER_SECOND}/s. Grant ses:GetSendQuota to the task role",
            extra={"error": str(error)},
        )
        return None
    return SendQuota(float(answer["MaxSendRate"]), float(answer["Max24HourSend"]))


def account_rate(setting: float | None, quota: SendQuota | None) -> float:
    """The rate to keep: the setting if set (an operator's share or a known quota), else
    the account's quota, else SES's sandbox rate, the one every account has."""
    if setting is not None:
        return setting
    return quota.max_send_rate if quota is not None else DEFAULT_EMAIL_MAX_PER_SECOND


class AccountTokenBucket:
    """At most ``rate`` tokens a second, in bursts up to ``capacity``, for every process.

    The item holds the token level, when it was last written and a version; a taker
    reads it, refills it for the time passed, and writes it back on condition that the
    version is unchanged (another taker's write makes it read again).
    """

    def __init__(
        self,
        table: Table,
        region: str,
        rate: float,
        capacity: float,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError(f"rate must be > 0 and capacity >= 1, got {rate} and {capacity}")
        self._table = table
        self._key = {"pk": f"{SES_RATE_PK_PREFIX}{region}", "sk": SES_RATE_SK}
        self._rate = rate
        self._capacity = capacity
        self._clock = clock
        self._sleep = sleep

    def acquire(self, tokens: int) -> None:
        """Block until ``tokens`` (at most ``capacity``) are free, then take them."""
        if tokens > self._capacity:
            raise ValueError(f"cannot take {tokens} tokens at once; capacity is {self._capacity}")
        while True:
            now = self._clock()
            item = self._table.get_item(Key=self._key, ConsistentRead=True).get("Item")
            if item is None:
                level, written, version = self._capacity, now, 0
            else:
                written = float(item["written_at"])  # type: ignore[arg-type]
                version = int(item["version"])  # type: ignore[arg-type]
                level = float(item["tokens"])  # type: ignore[arg-type]
            # max(): a writer whose clock ran ahead must not make the level fall.
            level = min(self._capacity, level + max(0.0, now - written) * self._rate)
            if level < tokens:
                self._sleep((tokens - level) / self._rate)
                continue
            if self._take(level - tokens, max(now, written), version, item is None):
                return

    def _take(self, left: float, at: float, version: int, first: bool) -> bool:
        condition = "attribute_not_exists(pk)" if first else "version = :seen"
        values = {} if first else {":seen": version}
        try:
            self._table.put_item(
                Item={
                    **self._key,
                    "tokens": Decimal(f"{left:.6f}"),
                    "written_at": Decimal(f"{at:.6f}"),
                    "version": version + 1,
                    "rate": Decimal(f"{self._rate:.6f}"),
                },
                ConditionExpression=condition,
                **({"ExpressionAttributeValues": values} if values else {}),  # type: ignore[arg-type]
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False  # another process took tokens first: read again
            raise
        return True
