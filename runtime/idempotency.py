"""The idempotency ledger: at-least-once delivery, effects applied at most once.

Our own conditional writes on the shared table (``pk``/``sk``, TTL ``expires_at``)
rather than Powertools idempotency, because outside Lambda Powertools has no remaining
time to bound an in-progress record: a worker killed mid-task would block its
message until the record's TTL (an hour by default). Here a claim is a *lease* as
long as the task's maximum duration; a crashed consumer's lease simply runs out.

One item per task and key::

    pk = "idempotency#<task>#<idempotency_key or envelope id>", sk = "ledger"
    status = IN_PROGRESS | COMPLETED, owner, lease_until, expires_at

* ``claim``: put if absent or if an IN_PROGRESS lease has expired. Otherwise COMPLETED
  means a duplicate delivery (acknowledge it) and a live lease means another consumer
  is running it (retry after the lease).
* ``complete`` marks it COMPLETED for ``COMPLETED_RETENTION_SECONDS``; ``release``
  deletes it after a failure, so a retry (or a redrive from the DLQ) runs again.

The window between a handler's side effect and ``complete`` cannot be closed from
outside the handler. A handler whose effect is a DynamoDB write closes it by adding
``context.ledger_completion()`` to its own ``TransactWriteItems``; other handlers
should make their effect idempotent with ``context.idempotency_key``.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

from runtime.errors import ConfigurationError, TaskInProgressError

__all__ = [
    "IDEMPOTENCY_ENV",
    "TABLE_ENV",
    "Claim",
    "DynamoDBLedger",
    "Ledger",
    "NoLedger",
    "ledger_from_env",
]

TABLE_ENV = "ASYNC_TASKS_TABLE"
# "disabled" is the explicit opt-out of the ledger (for tasks that are idempotent by
# nature); any other value, or none, requires the table.
IDEMPOTENCY_ENV = "ASYNC_TASKS_IDEMPOTENCY"
PK_PREFIX = "idempotency#"
SORT_KEY = "ledger"
# A completed record outlives the DLQ's 14-day retention, so a redrive is still a duplicate.
COMPLETED_RETENTION_SECONDS = 15 * 24 * 3600
# Slack on top of the task's maximum duration before another consumer may take over:
# half the duration, at most 30 s.
LEASE_GRACE_SECONDS = 30
_IN_PROGRESS = "IN_PROGRESS"
_COMPLETED = "COMPLETED"
_CLAIM_ATTEMPTS = 3


@dataclass(frozen=True)
class Claim:
    """The result of a claim: either a held lease or a duplicate."""

    key: str
    owner: str
    duplicate: bool = False


class Ledger(Protocol):
    def claim(self, task: str, key: str, lease_seconds: float) -> Claim: ...
    def complete(self, claim: Claim) -> None: ...
    def release(self, claim: Claim) -> None: ...
    def completion_item(self, claim: Claim) -> dict[str, Any] | None: ...


class NoLedger:
    """The explicit opt-out: every delivery runs (for naturally idempotent tasks)."""

    def claim(self, task: str, key: str, lease_seconds: float) -> Claim:
        return Claim(key=key, owner="")

    def complete(self, claim: Claim) -> None:
        return None

    def release(self, claim: Claim) -> None:
        return None

    def completion_item(self, claim: Claim) -> dict[str, Any] | None:
        return None


class DynamoDBLedger:
    """Conditional writes on the shared table; ``clock`` is injectable for tests."""

    def __init__(self, dynamodb: Any, table_name: str, clock: Any = time.time) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        self._clock = clock

    def claim(self, task: str, key: str, lease_seconds: float) -> Claim:
        pk = f"{PK_PREFIX}{task}#{key}"
        owner = uuid.uuid4().hex
        for _ in range(_CLAIM_ATTEMPTS):
            now = self._clock()
            lease_until = now + lease_seconds + min(LEASE_GRACE_SECONDS, lease_seconds / 2)
            try:
                self._dynamodb.put_item(
                    TableName=self._table,
                    Item={
                        "pk": {"S": pk},
                        "sk": {"S": SORT_KEY},
                        "status": {"S": _IN_PROGRESS},
                        "owner": {"S": owner},
                        "lease_until": {"N": f"{lease_until:.3f}"},
                        # A crashed claim is cleaned up by TTL a day after its lease.
                        "expires_at": {"N": str(int(lease_until) + 86_400)},
                    },
                    ConditionExpression=(
                        "attribute_not_exists(pk) OR (#status = :in_progress AND "
                        "lease_until < :now)"
                    ),
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":in_progress": {"S": _IN_PROGRESS},
                        ":now": {"N": f"{now:.3f}"},
                    },
                )
                return Claim(key=pk, owner=owner)
            except ClientError as error:
                if not _is_condition_failure(error):
                    raise
            existing = self._dynamodb.get_item(
                TableName=self._table,
                Key={"pk": {"S": pk}, "sk": {"S": SORT_KEY}},
                ConsistentRead=True,
            ).get("Item")
            if existing is None:
                continue  # released between our put and get: claim again
            if existing["status"]["S"] == _COMPLETED:
                return Claim(key=pk, owner=owner, duplicate=True)
            remaining = float(existing["lease_until"]["N"]) - self._clock()
            if remaining > 0:
                raise TaskInProgressError(
                    f"task '{task}' key '{key}' is in progress on another consumer for "
                    f"up to {remaining:.0f} s more",
                    retry_after_seconds=remaining,
                )
        raise TaskInProgressError(
            f"task '{task}' key '{key}': the ledger record kept changing; retrying later",
            retry_after_seconds=1,
        )

    def complete(self, claim: Claim) -> None:
        try:
            self._dynamodb.update_item(**self.completion_item(claim)["Update"])
        except ClientError as error:
            # Already completed by the handler's own transaction, or the lease was
            # lost; either way the effect happened and the message can be deleted.
            if not _is_condition_failure(error):
                raise

    def release(self, claim: Claim) -> None:
        try:
            self._dynamodb.delete_item(
                TableName=self._table,
                Key={"pk": {"S": claim.key}, "sk": {"S": SORT_KEY}},
                ConditionExpression="#owner = :owner AND #status = :in_progress",
                ExpressionAttributeNames={"#owner": "owner", "#status": "status"},
                ExpressionAttributeValues={
                    ":owner": {"S": claim.owner},
                    ":in_progress": {"S": _IN_PROGRESS},
                },
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise

    def completion_item(self, claim: Claim) -> dict[str, Any]:
        """A ``TransactWriteItems`` entry that marks the claim COMPLETED."""
        return {
            "Update": {
                "TableName": self._table,
                "Key": {"pk": {"S": claim.key}, "sk": {"S": SORT_KEY}},
                "UpdateExpression": "SET #status = :completed, expires_at = :expires",
                "ConditionExpression": "#owner = :owner",
                "ExpressionAttributeNames": {"#status": "status", "#owner": "owner"},
                "ExpressionAttributeValues": {
                    ":completed": {"S": _COMPLETED},
                    ":owner": {"S": claim.owner},
                    ":expires": {"N": str(int(self._clock()) + COMPLETED_RETENTION_SECONDS)},
                },
            }
        }


def ledger_from_env(
    environ: Mapping[str, str] | None = None,
    *,
    dynamodb: Any = None,
    disabled: bool = False,
) -> Ledger:
    """The ledger the environment asks for; refuses to guess when it names none.

    ``disabled`` (or ``ASYNC_TASKS_IDEMPOTENCY=disabled``) is the explicit opt-out.
    """
    env = os.environ if environ is None else environ
    if disabled or env.get(IDEMPOTENCY_ENV, "").strip().lower() == "disabled":
        return NoLedger()
    table = env.get(TABLE_ENV, "").strip()
    if not table:
        raise ConfigurationError(
            f"{TABLE_ENV} is not set, so there is no idempotency ledger. Set it to the "
            f"task table's name, or opt out explicitly with {IDEMPOTENCY_ENV}=disabled "
            "(or --no-idempotency) if every handler is idempotent by nature"
        )
    if dynamodb is None:
        from runtime._aws import client

        dynamodb = client("dynamodb")
    return DynamoDBLedger(dynamodb, table)


def _is_condition_failure(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")
