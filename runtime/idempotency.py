"""The idempotency ledger: at-least-once delivery, effects applied at most once.

Our own conditional writes on the shared table (``pk``/``sk``, TTL ``expires_at``)
rather than Powertools idempotency, because outside Lambda Powertools has no remaining
time to bound an in-progress record: a worker killed mid-task would block its
message until the record's TTL (an hour by default). Here a claim is a *lease* as
long as the task's maximum duration; a crashed consumer's lease simply runs out.

One item per task and key::

    pk = "idempotency#<task>#<idempotency_key or envelope id>", sk = "ledger"
    status = IN_PROGRESS | COMPLETED | RELEASED, owner, token, lease_seconds,
    lease_until, failures, ended, interrupted, expires_at

* ``claim``: taken if absent, RELEASED, or an IN_PROGRESS lease whose ``token`` this
  process has seen unchanged for ``lease_seconds`` on its own monotonic clock (a
  *takeover*: the holder stopped renewing, so its attempt ended with its process and
  counts as a failed attempt, in ``failures`` and ``ended``, unless ``interrupt``
  marked it: a stop's drain deadline, not the task, ended it). Otherwise COMPLETED
  means a duplicate delivery (acknowledge it) and a live lease means another
  consumer is running it (retry once a lease period has passed).
* ``renew`` extends a held lease with a fresh token (the consumer's heartbeat does,
  while the handler runs); ``complete`` marks it COMPLETED for
  ``COMPLETED_RETENTION_SECONDS``. Both raise ``LeaseLostError`` when another
  consumer has claimed the key since.
* ``release`` marks it RELEASED after a failed attempt and counts the failure (the
  retry budget, see ``runtime.contract.retry_budget``); ``discard`` deletes it after a
  dead-letter, so a redrive from the DLQ starts a fresh budget.

No decision compares wall clocks of different hosts: ``lease_until`` is written for
people reading the table, never read. Exclusion holds whatever the skew between
hosts, as long as the holder renews within a lease period (see docs/runtime.md).

The window between a handler's side effect and ``complete`` cannot be closed from
outside the handler. A handler whose effect is a DynamoDB write closes it by adding
``context.ledger_completion()`` to its own ``TransactWriteItems``; other handlers
should make their effect idempotent with ``context.idempotency_key``.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
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
# A takeover waits a lease period after its first sighting; this slack covers the
# SQS redelivery landing a little early on our clock.
_SIGHTING_SLACK_SECONDS = 1.0
# Sightings kept per process (one per key), oldest dropped first.
_MAX_SIGHTINGS = 10_000


@dataclass(frozen=True)
class Claim:
    """The result of a claim: either a held lease or a duplicate.

    ``failures`` counts the earlier failed handler attempts of this key (None when no
    ledger counts them); the dispatcher's retry budget reads it. ``ended`` counts the
    attempts among them that ended with their process (taken over after their lease
    lapsed): a claim with ``ended`` runs alone, so it cannot take others down with it.
    """

    key: str
    owner: str
    duplicate: bool = False
    failures: int | None = None
    ended: int = 0


class Ledger(Protocol):
    def claim(self, task: str, key: str, lease_seconds: float) -> Claim: ...
    def renew(self, claim: Claim, lease_seconds: float) -> None: ...
    def complete(self, claim: Claim) -> None: ...
    def release(self, claim: Claim, *, count_failure: bool = True) -> None: ...
    def interrupt(self, claim: Claim) -> None: ...
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

    def interrupt(self, claim: Claim) -> None:
        return None

    def discard(self, claim: Claim) -> None:
        return None

    def completion_item(self, claim: Claim) -> dict[str, Any] | None:
        return None

    def check(self) -> None:
        return None


class _Sightings:
    """When this process first saw each key's current lease token, on its monotonic clock.

    A takeover needs the token unchanged for a whole lease period as *this* process
    measures it: no other host's clock is trusted.
    """

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._first_seen: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def unchanged_for(self, key: str, token: str) -> float:
        """Seconds since this process first saw ``token`` on ``key`` (0 on a first sighting)."""
        now = self._monotonic()
        with self._lock:
            seen = self._first_seen.get(key)
            if seen is None or seen[0] != token:
                self._first_seen.pop(key, None)
                if len(self._first_seen) >= _MAX_SIGHTINGS:
                    del self._first_seen[next(iter(self._first_seen))]
                self._first_seen[key] = (token, now)
                return 0.0
            return now - seen[1]

    def forget(self, key: str) -> None:
        with self._lock:
            self._first_seen.pop(key, None)


class DynamoDBLedger:
    """Conditional writes on the shared table.

    ``clock`` (wall time) only stamps TTLs and the informational ``lease_until``;
    ``monotonic`` times takeovers. Both are injectable for tests.
    """

    def __init__(
        self,
        dynamodb: DynamoDBClient,
        table_name: str,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        self._clock = clock
        self._sightings = _Sightings(monotonic)

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
            try:
                # UpdateItem, not PutItem: it keeps the failure count of earlier attempts.
                return self._take(
                    pk,
                    owner,
                    lease_seconds,
                    "attribute_not_exists(pk) OR #status = :released",
                    {":released": {"S": _RELEASED}},
                )
            except ClientError as error:
                if not _is_condition_failure(error):
                    raise
            existing = self._dynamodb.get_item(
                TableName=self._table, Key=_key(pk), ConsistentRead=True
            ).get("Item")
            if existing is None or existing["status"]["S"] == _RELEASED:
                continue  # changed between our update and get: claim again
            if existing["status"]["S"] == _COMPLETED:
                self._sightings.forget(pk)
                return Claim(key=pk, owner=owner, duplicate=True)
            taken = self._take_over_if_lapsed(task, key, pk, owner, lease_seconds, existing)
            if taken is not None:
                return taken
        raise TaskInProgressError(
            f"task '{task}' key '{key}': the ledger record kept changing; retrying later",
            retry_after_seconds=1,
        )

    def _take_over_if_lapsed(
        self,
        task: str,
        key: str,
        pk: str,
        owner: str,
        lease_seconds: float,
        existing: Mapping[str, Any],
    ) -> Claim | None:
        """Take a lease this process has seen unrenewed for a lease period; else raise.

        None: the record changed under us, claim again.
        """
        token_name, token = _lease_token(existing)
        held_for = float(existing.get("lease_seconds", {}).get("N", lease_seconds))
        unchanged = self._sightings.unchanged_for(pk, json.dumps(token, sort_keys=True))
        if unchanged < held_for:
            remaining = held_for - unchanged
            raise TaskInProgressError(
                f"task '{task}' key '{key}' is in progress on another consumer; this one "
                f"takes over only if its lease is not renewed for {remaining:.0f} s more",
                retry_after_seconds=remaining + _SIGHTING_SLACK_SECONDS,
            )
        try:
            # The holder did not renew for a whole lease: its attempt ended with its
            # process (killed, crashed, out of memory). Count it against the budget,
            # unless its consumer marked it interrupted (a stop's drain deadline).
            claim = self._take(
                pk,
                owner,
                lease_seconds,
                f"#status = :in_progress AND {token_name} = :seen",
                {":in_progress": {"S": _IN_PROGRESS}, ":seen": token},
                count_ended="interrupted" not in existing,
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
            return None
        self._sightings.forget(pk)
        return claim

    def _take(
        self,
        pk: str,
        owner: str,
        lease_seconds: float,
        condition: str,
        condition_values: dict[str, Any],
        *,
        count_ended: bool = False,
    ) -> Claim:
        lease_until = self._clock() + lease_seconds
        expression = (
            "SET #status = :in_progress, #owner = :owner, #token = :token, "
            "lease_seconds = :seconds, lease_until = :lease, expires_at = :expires"
        )
        values: dict[str, Any] = {
            ":in_progress": {"S": _IN_PROGRESS},
            ":owner": {"S": owner},
            ":token": {"S": uuid.uuid4().hex},
            ":seconds": {"N": f"{lease_seconds:.3f}"},
            ":lease": {"N": f"{lease_until:.3f}"},
            # A crashed claim is cleaned up by TTL a day after its lease.
            ":expires": {"N": str(int(lease_until) + 86_400)},
            **condition_values,
        }
        expression += " REMOVE interrupted"
        if count_ended:
            expression += " ADD failures :one, ended :one"
            values[":one"] = {"N": "1"}
        attributes = self._dynamodb.update_item(
            TableName=self._table,
            Key=_key(pk),
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status", "#owner": "owner", "#token": "token"},
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )["Attributes"]
        return Claim(
            key=pk,
            owner=owner,
            failures=int(attributes.get("failures", {}).get("N", "0")),
            ended=int(attributes.get("ended", {}).get("N", "0")),
        )

    def renew(self, claim: Claim, lease_seconds: float) -> None:
        """Extend a held lease with a fresh token; LeaseLostError if not held.

        A lease this owner already completed is not lost: there is nothing to renew.
        """
        lease_until = self._clock() + lease_seconds
        try:
            self._owned_update(
                claim,
                "SET #token = :token, lease_seconds = :seconds, lease_until = :lease, "
                "expires_at = :expires",
                {
                    ":token": {"S": uuid.uuid4().hex},
                    ":seconds": {"N": f"{lease_seconds:.3f}"},
                    ":lease": {"N": f"{lease_until:.3f}"},
                    ":expires": {"N": str(int(lease_until) + 86_400)},
                },
                require_in_progress=True,
            )
        except LeaseLostError:
            item = self._dynamodb.get_item(
                TableName=self._table, Key=_key(claim.key), ConsistentRead=True
            ).get("Item", {})
            if not _completed_by(item, claim.owner):
                raise

    def complete(self, claim: Claim) -> None:
        """Mark the claim COMPLETED; LeaseLostError if another consumer holds it now.

        Still succeeds after the handler's own transaction completed it (same owner).
        """
        self._owned_update(
            claim,
            "SET #status = :completed, expires_at = :expires REMOVE failures, ended",
            {
                ":completed": {"S": _COMPLETED},
                ":expires": {"N": str(int(self._clock()) + COMPLETED_RETENTION_SECONDS)},
            },
            require_in_progress=False,
        )

    def release(self, claim: Claim, *, count_failure: bool = True) -> None:
        """Free the key after an attempt, counting it as failed unless told otherwise.

        ``count_failure=False``: the attempt never ran its handler (it was deferred).
        """
        expression = "SET #status = :released, expires_at = :expires REMOVE lease_until, #token"
        values: dict[str, Any] = {
            ":released": {"S": _RELEASED},
            ":expires": {"N": str(int(self._clock()) + COMPLETED_RETENTION_SECONDS)},
        }
        if count_failure:
            expression += " ADD failures :one"
            values[":one"] = {"N": "1"}
        # LeaseLostError: another consumer holds it now, and its outcome decides.
        with contextlib.suppress(LeaseLostError):
            self._owned_update(claim, expression, values, require_in_progress=True)

    def interrupt(self, claim: Claim) -> None:
        """Mark a held lease as interrupted by a stop, so its takeover counts no failure.

        For a task still running at the drain deadline: the process exits with it, and
        that is the deploy's doing, not the task's. The lease itself stays, so nothing
        runs beside it before the process is gone.
        """
        with contextlib.suppress(LeaseLostError):
            self._owned_update(
                claim, "SET interrupted = :yes", {":yes": {"BOOL": True}}, require_in_progress=True
            )

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
        values = {**values, ":owner": {"S": claim.owner}}
        if require_in_progress:
            condition += " AND #status = :in_progress"
            values[":in_progress"] = {"S": _IN_PROGRESS}
        # DynamoDB refuses names the expressions do not use.
        names = {
            f"#{name}": name
            for name in ("owner", "status", "token")
            if f"#{name}" in expression or f"#{name}" in condition
        }
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key=_key(claim.key),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
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


def _lease_token(item: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The attribute that changes on every lease write, and its value as DynamoDB has it.

    Records written before tokens existed change ``lease_until`` on every renewal instead.
    """
    if "token" in item:
        return "#token", dict(item["token"])
    return "lease_until", dict(item.get("lease_until", {"N": "0"}))


def _completed_by(item: Mapping[str, Any], owner: str) -> bool:
    return bool(
        item.get("status", {}).get("S") == _COMPLETED and item.get("owner", {}).get("S") == owner
    )


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
