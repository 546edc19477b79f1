"""The idempotency ledger: at-least-once delivery, effects applied at most once.

Our own conditional writes on the shared table (``pk``/``sk``, TTL ``expires_at``)
rather than Powertools idempotency, because outside Lambda Powertools has no remaining
time to bound an in-progress record: a worker killed mid-task would block its
message until the record's TTL (an hour by default). Here a claim is a *lease* as
long as the task's maximum duration; a crashed consumer's lease simply runs out.

One item per task and key::

    pk = "idempotency#<task>#<idempotency_key or envelope id>", sk = "ledger"
    status = IN_PROGRESS | COMPLETED | RELEASED, owner, lease_until, failures, expires_at

* ``claim``: taken if absent, RELEASED, or an IN_PROGRESS lease that has expired.
  Otherwise COMPLETED means a duplicate delivery (acknowledge it) and a live lease
  means another consumer is running it (retry after the lease).
* ``renew`` extends a held lease (the consumer's heartbeat does, while the handler
  runs); ``complete`` marks it COMPLETED for ``COMPLETED_RETENTION_SECONDS``. Both
  raise ``LeaseLostError`` when another consumer has claimed the key since.
* ``release`` marks it RELEASED after a failed attempt and counts the failure (the
  retry budget, see ``runtime.contract.retry_budget``); ``discard`` deletes it after a
  dead-letter, so a redrive from the DLQ starts a fresh budget.

The window between a handler's side effect and ``complete`` cannot be closed from
outside the handler. A handler whose effect is a DynamoDB write closes it by adding
``context.ledger_completion()`` to its own ``TransactWriteItems``; other handlers
should make their effect idempotent with ``context.idempotency_key``.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from runtime.contract import IDEMPOTENCY_ENV, TABLE_ENV
from runtime.contract.storage import LEDGER_PK_PREFIX as PK_PREFIX
from runtime.contract.storage import LEDGER_SK as SORT_KEY
from runtime.errors import ConfigurationError, LeaseLostError, TaskInProgressError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

__all__ = [
    "IDEMPOTENCY_ENV",
    "TABLE_ENV",
    "Claim",
    "DynamoDBLedger",
    "Ledger",
    "NoLedger",
    "ledger_from_env",
    "task_lease_seconds",
]

# A completed record outlives the DLQ's 14-day retention, so a redrive is still a duplicate.
COMPLETED_RETENTION_SECONDS = 15 * 24 * 3600
# Slack on top of the task's maximum duration before another consumer may take over:
# half the duration, at most 30 s.
LEASE_GRACE_SECONDS = 30
_IN_PROGRESS = "IN_PROGRESS"
_COMPLETED = "COMPLETED"
# Freed after a failed attempt; keeps the failure count for the retry budget.
_RELEASED = "RELEASED"
_CLAIM_ATTEMPTS = 3


@dataclass(frozen=True)
class Claim:
    """The result of a claim: either a held lease or a duplicate.

    ``failures`` counts the earlier failed handler attempts of this key (None when no
    ledger counts them); the dispatcher's retry budget reads it.
    """

    key: str
    owner: str
    duplicate: bool = False
    failures: int | None = None


class Ledger(Protocol):
    def claim(self, task: str, key: str, lease_seconds: float) -> Claim: ...
    def renew(self, claim: Claim, lease_seconds: float) -> None: ...
    def complete(self, claim: Claim) -> None: ...
    def release(self, claim: Claim, *, count_failure: bool = True) -> None: ...
    def discard(self, claim: Claim) -> None: ...
    def completion_item(self, claim: Claim) -> dict[str, Any] | None: ...
    def check(self) -> None: ...


class NoLedger:
    """The explicit opt-out: every delivery runs (for naturally idempotent tasks)."""

    def claim(self, task: str, key: str, lease_seconds: float) -> Claim:
        return Claim(key=key, owner="")

    def renew(self, claim: Claim, lease_seconds: float) -> None:
        return None

    def complete(self, claim: Claim) -> None:
        return None

    def release(self, claim: Claim, *, count_failure: bool = True) -> None:
        return None

    def discard(self, claim: Claim) -> None:
        return None

    def completion_item(self, claim: Claim) -> dict[str, Any] | None:
        return None

    def check(self) -> None:
        return None


class DynamoDBLedger:
    """Conditional writes on the shared table; ``clock`` is injectable for tests."""

    def __init__(
        self, dynamodb: DynamoDBClient, table_name: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        self._clock = clock

    def check(self) -> None:
        """Fail fast on a missing table or missing permission, naming the variable.

        A GetItem of an absent key: the ledger needs GetItem anyway, so this asks for
        no permission the task role would not otherwise have.
        """
        try:
            self._dynamodb.get_item(TableName=self._table, Key=_key(f"{PK_PREFIX}preflight"))
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            raise ConfigurationError(
                f"{TABLE_ENV}={self._table}: the idempotency ledger cannot be read ({code}: "
                f"{error.response.get('Error', {}).get('Message', '')}); check the table "
                "name and the task role's DynamoDB permissions"
            ) from error

    def claim(self, task: str, key: str, lease_seconds: float) -> Claim:
        pk = f"{PK_PREFIX}{task}#{key}"
        owner = uuid.uuid4().hex
        for _ in range(_CLAIM_ATTEMPTS):
            now = self._clock()
            lease_until = now + lease_seconds
            try:
                # UpdateItem, not PutItem: it keeps the failure count of earlier attempts.
                attributes = self._dynamodb.update_item(
                    TableName=self._table,
                    Key=_key(pk),
                    UpdateExpression=(
                        "SET #status = :in_progress, #owner = :owner, lease_until = :lease, "
                        "expires_at = :expires"
                    ),
                    ConditionExpression=(
                        "attribute_not_exists(pk) OR #status = :released OR "
                        "(#status = :in_progress AND lease_until < :now)"
                    ),
                    ExpressionAttributeNames={"#status": "status", "#owner": "owner"},
                    ExpressionAttributeValues={
                        ":in_progress": {"S": _IN_PROGRESS},
                        ":released": {"S": _RELEASED},
                        ":owner": {"S": owner},
                        ":lease": {"N": f"{lease_until:.3f}"},
                        # A crashed claim is cleaned up by TTL a day after its lease.
                        ":expires": {"N": str(int(lease_until) + 86_400)},
                        ":now": {"N": f"{now:.3f}"},
                    },
                    ReturnValues="ALL_NEW",
                )["Attributes"]
                failures = int(attributes.get("failures", {}).get("N", "0"))
                return Claim(key=pk, owner=owner, failures=failures)
            except ClientError as error:
                if not _is_condition_failure(error):
                    raise
            existing = self._dynamodb.get_item(
                TableName=self._table, Key=_key(pk), ConsistentRead=True
            ).get("Item")
            if existing is None or existing["status"]["S"] == _RELEASED:
                continue  # changed between our update and get: claim again
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

    def renew(self, claim: Claim, lease_seconds: float) -> None:
        """Extend a held lease to now + ``lease_seconds``; LeaseLostError if not held."""
        lease_until = self._clock() + lease_seconds
        self._owned_update(
            claim,
            "SET lease_until = :lease, expires_at = :expires",
            {
                ":lease": {"N": f"{lease_until:.3f}"},
                ":expires": {"N": str(int(lease_until) + 86_400)},
            },
            require_in_progress=True,
        )

    def complete(self, claim: Claim) -> None:
        """Mark the claim COMPLETED; LeaseLostError if another consumer holds it now.

        Still succeeds after the handler's own transaction completed it (same owner).
        """
        self._owned_update(
            claim,
            "SET #status = :completed, expires_at = :expires REMOVE failures",
            {
                ":completed": {"S": _COMPLETED},
                ":expires": {"N": str(int(self._clock()) + COMPLETED_RETENTION_SECONDS)},
            },
            require_in_progress=False,
        )

    def release(self, claim: Claim, *, count_failure: bool = True) -> None:
        """Free the key after a failed attempt, counting the failure for the budget.

        ``count_failure=False`` frees it without counting (a deferred task).
        """
        values = {
            ":released": {"S": _RELEASED},
            ":expires": {"N": str(int(self._clock()) + COMPLETED_RETENTION_SECONDS)},
        }
        expression = "SET #status = :released, expires_at = :expires REMOVE lease_until"
        if count_failure:
            expression += " ADD failures :one"
            values[":one"] = {"N": "1"}
        # LeaseLostError: another consumer holds it now, and its outcome decides.
        with contextlib.suppress(LeaseLostError):
            self._owned_update(claim, expression, values, require_in_progress=True)

    def discard(self, claim: Claim) -> None:
        """Delete the record after a dead-letter, so a redrive starts a fresh budget."""
        try:
            self._dynamodb.delete_item(
                TableName=self._table,
                Key=_key(claim.key),
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
                "Key": _key(claim.key),
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

    def _owned_update(
        self,
        claim: Claim,
        expression: str,
        values: dict[str, Any],
        *,
        require_in_progress: bool,
    ) -> None:
        condition = "#owner = :owner"
        names = {"#owner": "owner", "#status": "status"}
        values = {**values, ":owner": {"S": claim.owner}}
        if require_in_progress:
            condition += " AND #status = :in_progress"
            values[":in_progress"] = {"S": _IN_PROGRESS}
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key=_key(claim.key),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names
                if "#status" in expression or require_in_progress
                else {"#owner": "owner"},
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if _is_condition_failure(error):
                raise LeaseLostError(
                    f"the idempotency lease on '{claim.key}' is no longer held by this "
                    "consumer: another delivery claimed it after the lease ran out"
                ) from error
            raise


def _key(pk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": SORT_KEY}}


def task_lease_seconds(max_duration_seconds: float) -> float:
    """A lease for a run nobody renews (Lambda): the maximum duration plus half, at most 30 s."""
    return max_duration_seconds + min(LEASE_GRACE_SECONDS, max_duration_seconds / 2)


def ledger_from_env(
    environ: Mapping[str, str] | None = None,
    *,
    dynamodb: DynamoDBClient | None = None,
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
        from runtime.aws_clients import client

        dynamodb = client("dynamodb")
    return DynamoDBLedger(dynamodb, table)


def _is_condition_failure(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")
