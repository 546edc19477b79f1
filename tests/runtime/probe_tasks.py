"""Test handlers, registered through ASYNC_TASKS_MODULES=tests.runtime.probe_tasks.

``probe`` records what it does in the task table so that several worker processes
can be checked from the test:

* ``slow-started#<pid>``: a slow handler began (the test kills workers inside one);
* ``effect#<envelope id>``: the side effect, put on condition that it does not exist
  yet (then ``applications`` is incremented); finding it already there adds to
  ``doubles`` instead. With ``"transactional": true`` the put commits in one
  transaction with the idempotency ledger's completion;
* ``transient#<pid>``: a transient failure was injected;
* ``attempts#<envelope id>``: every handler start, to count attempts per message.

Payload switches: ``sleep`` (seconds, on the first ``sleep_attempts`` attempts),
``permanent``, ``exit`` (raise SystemExit), ``misconfigured`` (raise
ConfigurationError), ``fail_attempts`` and ``hash_faults`` (transient faults).

Faults are decided from the payload and by hashing (envelope id, attempt), never by
the clock, so runs are reproducible.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from runtime import PayloadValidationError, PermanentTaskError, TaskContext, register
from runtime.aws_clients import client
from runtime.errors import ConfigurationError

TABLE_ENV = "ASYNC_TASKS_TABLE"
FAULT_PERCENT = 10
MAX_FAULTY_ATTEMPT = 2


class InjectedTransientError(RuntimeError):
    """A transient failure the test injected."""


def _validate(payload: Mapping[str, Any]) -> None:
    if type(payload.get("n")) is not int:
        raise PayloadValidationError(f"probe needs an integer 'n', got {payload.get('n')!r}")


def injected_fault(envelope_id: str, attempt: int) -> bool:
    """About 10 % of first and second attempts fail; later attempts always pass."""
    digest = hashlib.sha256(f"{envelope_id}:{attempt}".encode()).digest()
    return attempt <= MAX_FAULTY_ATTEMPT and digest[0] % 100 < FAULT_PERCENT


@register("probe", validator=_validate, max_duration_seconds=4)
def probe(payload: Mapping[str, Any], context: TaskContext) -> None:
    table = os.environ[TABLE_ENV]
    dynamodb = client("dynamodb")
    pid = os.getpid()
    _add(dynamodb, table, f"attempts#{context.envelope_id}")
    slow = float(payload.get("sleep", 0))
    if context.attempt > int(payload.get("sleep_attempts", 1_000)):
        slow = 0  # sleep only on the first ``sleep_attempts`` attempts
    if slow:
        _add(dynamodb, table, f"slow-started#{pid}")
        time.sleep(slow)
    if payload.get("permanent"):
        raise PermanentTaskError("probe asked to fail permanently")
    if payload.get("exit"):
        raise SystemExit(int(payload["exit"]))
    if payload.get("misconfigured"):
        raise ConfigurationError("PROBE_SETTING is not set; set it to the probe's target")
    faulty = payload.get("hash_faults") and injected_fault(context.envelope_id, context.attempt)
    if faulty or context.attempt <= int(payload.get("fail_attempts", 0)):
        _add(dynamodb, table, f"transient#{pid}")
        raise InjectedTransientError(f"injected fault on attempt {context.attempt}")
    _apply(dynamodb, table, context, payload)


def _apply(dynamodb: Any, table: str, context: TaskContext, payload: Mapping[str, Any]) -> None:
    effect = {
        "TableName": table,
        "Item": {
            "pk": {"S": f"effect#{context.envelope_id}"},
            "sk": {"S": "effect"},
            "n": {"N": str(payload["n"])},
            "pid": {"N": str(os.getpid())},
        },
        "ConditionExpression": "attribute_not_exists(pk)",
    }
    try:
        if payload.get("transactional"):
            # Effect and ledger completion commit together (see TaskContext.ledger_completion).
            completion = context.ledger_completion()
            dynamodb.transact_write_items(
                TransactItems=[{"Put": effect}, *([completion] if completion else [])]
            )
        else:
            dynamodb.put_item(**effect)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code not in ("ConditionalCheckFailedException", "TransactionCanceledException"):
            raise
        existing = dynamodb.get_item(
            TableName=table,
            Key={"pk": {"S": f"effect#{context.envelope_id}"}, "sk": {"S": "effect"}},
            ConsistentRead=True,
        )
        if "Item" not in existing:
            raise  # the ledger condition failed: a transient error, retried
        _add(dynamodb, table, "doubles")
        return
    _add(dynamodb, table, "applications")


def _add(dynamodb: Any, table: str, name: str) -> None:
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": name}, "sk": {"S": "counter"}},
        UpdateExpression="ADD #v :one",
        ExpressionAttributeNames={"#v": "value"},
        ExpressionAttributeValues={":one": {"N": "1"}},
    )


def counter(dynamodb: Any, table: str, name: str) -> int:
    item = dynamodb.get_item(
        TableName=table, Key={"pk": {"S": name}, "sk": {"S": "counter"}}, ConsistentRead=True
    ).get("Item")
    return int(item["value"]["N"]) if item else 0
