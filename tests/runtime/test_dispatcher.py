"""Dispatch outcomes and the idempotency ledger, against moto's DynamoDB."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runtime.dispatcher import Dispatcher, Outcome
from runtime.envelope import encode, new_envelope
from runtime.errors import ConfigurationError, TaskInProgressError
from runtime.idempotency import DynamoDBLedger, NoLedger, ledger_from_env
from runtime.registry import Registry
from tests.runtime.helpers import PROBE_MODULE
from tests.runtime.probe_tasks import counter


@pytest.fixture
def dispatcher(probe_env: str, dynamodb: Any) -> Dispatcher:
    return Dispatcher.from_env()


def _probe(**payload: Any) -> str:
    return encode(new_envelope("probe", {"n": 1, **payload}))


def test_valid_envelope_runs_its_handler_once(
    dispatcher: Dispatcher, dynamodb: Any, probe_env: str
) -> None:
    result = dispatcher.dispatch(_probe(), attempt=1)
    assert result.outcome is Outcome.SUCCEEDED
    assert counter(dynamodb, probe_env, "applications") == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("{not json", "InvalidEnvelopeError"),
        (encode(new_envelope("probe", {"n": 1})).replace('"probe"', '"nope"'), "UnknownTaskError"),
        (encode(new_envelope("probe", {"n": "one"})), "PayloadValidationError"),
        (encode(new_envelope("generate-report", {})), "PayloadValidationError"),
        (_probe(permanent=True), "PermanentTaskError"),
    ],
    ids=["malformed", "unknown-task", "invalid-payload", "stand-in-validator", "handler-says-so"],
)
def test_permanent_failures_are_dead_lettered_with_their_reason(
    dispatcher: Dispatcher, body: str, error: str
) -> None:
    result = dispatcher.dispatch(body, attempt=1)
    assert result.outcome is Outcome.DEAD_LETTER
    assert result.reason.startswith(f"{error}: ")


def test_other_exceptions_are_transient_and_free_the_key_for_the_retry(
    dispatcher: Dispatcher, dynamodb: Any, probe_env: str
) -> None:
    body = _probe(fail_attempts=1)
    first = dispatcher.dispatch(body, attempt=1)
    assert first.outcome is Outcome.RETRY
    assert "InjectedTransientError" in first.reason
    assert dispatcher.dispatch(body, attempt=2).outcome is Outcome.SUCCEEDED
    assert counter(dynamodb, probe_env, "applications") == 1


def test_second_delivery_of_the_same_envelope_does_not_rerun_the_side_effect(
    dispatcher: Dispatcher, dynamodb: Any, probe_env: str
) -> None:
    body = _probe()
    assert dispatcher.dispatch(body, attempt=1).outcome is Outcome.SUCCEEDED
    assert dispatcher.dispatch(body, attempt=2).outcome is Outcome.DUPLICATE
    assert counter(dynamodb, probe_env, "applications") == 1
    assert counter(dynamodb, probe_env, "doubles") == 0


def test_idempotency_key_makes_distinct_envelopes_one_task(
    dispatcher: Dispatcher, dynamodb: Any, probe_env: str
) -> None:
    first = encode(new_envelope("probe", {"n": 1}, idempotency_key="upload-42"))
    second = encode(new_envelope("probe", {"n": 1}, idempotency_key="upload-42"))
    assert dispatcher.dispatch(first, attempt=1).outcome is Outcome.SUCCEEDED
    assert dispatcher.dispatch(second, attempt=1).outcome is Outcome.DUPLICATE


def test_task_in_progress_on_another_consumer_is_retried_after_its_lease(
    dispatcher: Dispatcher, dynamodb: Any, probe_env: str
) -> None:
    envelope = new_envelope("probe", {"n": 1})
    DynamoDBLedger(dynamodb, probe_env).claim("probe", envelope["id"], lease_seconds=60)
    result = dispatcher.dispatch(encode(envelope), attempt=1)
    assert result.outcome is Outcome.RETRY
    # A first sighting of the lease: retried once a whole lease (plus 1 s slack) has passed.
    assert result.retry_after_seconds is not None and 60 < result.retry_after_seconds <= 61
    assert counter(dynamodb, probe_env, "applications") == 0


def test_an_expired_lease_of_a_crashed_consumer_is_taken_over(
    dynamodb: Any, probe_env: str
) -> None:
    now = [1_000_000.0]
    crashed = DynamoDBLedger(dynamodb, probe_env).claim("probe", "k", lease_seconds=10)
    ledger = DynamoDBLedger(dynamodb, probe_env, monotonic=lambda: now[0])
    with pytest.raises(TaskInProgressError):
        ledger.claim("probe", "k", lease_seconds=10)  # first sighting of its token
    now[0] += 10  # the token unchanged for the 10 s lease, on the taker's own clock
    taken = ledger.claim("probe", "k", lease_seconds=10)
    assert not taken.duplicate and taken.owner != crashed.owner
    assert (taken.failures, taken.ended) == (1, 1)  # the crashed attempt counts
    ledger.complete(taken)
    assert ledger.claim("probe", "k", lease_seconds=10).duplicate


def test_ledger_completion_commits_with_the_handlers_own_transaction(
    dispatcher: Dispatcher, dynamodb: Any, probe_env: str
) -> None:
    body = _probe(transactional=True)
    assert dispatcher.dispatch(body, attempt=1).outcome is Outcome.SUCCEEDED
    envelope_id = json.loads(body)["id"]
    item = dynamodb.get_item(
        TableName=probe_env,
        Key={"pk": {"S": f"idempotency#probe#{envelope_id}"}, "sk": {"S": "ledger"}},
    )["Item"]
    assert item["status"]["S"] == "COMPLETED"
    assert int(item["expires_at"]["N"]) > 0
    assert dispatcher.dispatch(body, attempt=2).outcome is Outcome.DUPLICATE


def test_a_per_task_consumer_dead_letters_other_tasks(probe_env: str) -> None:
    dispatcher = Dispatcher.from_env(expected_task="probe")
    result = dispatcher.dispatch(
        encode(new_envelope("generate-report", {"period": "d"})), attempt=1
    )
    assert result.outcome is Outcome.DEAD_LETTER
    assert result.reason.startswith("MisroutedTaskError: this consumer runs task 'probe' only")


def test_missing_table_refuses_to_start_with_a_clear_error() -> None:
    with pytest.raises(
        ConfigurationError, match=r"ASYNC_TASKS_TABLE is not set.*ASYNC_TASKS_IDEMPOTENCY=disabled"
    ):
        ledger_from_env({})


def test_running_without_a_ledger_takes_an_explicit_opt_out(dynamodb: Any, probe_env: str) -> None:
    assert isinstance(ledger_from_env({"ASYNC_TASKS_IDEMPOTENCY": "disabled"}), NoLedger)
    assert isinstance(ledger_from_env({}, disabled=True), NoLedger)
    # Without a ledger every delivery runs: the handler itself sees the repeat.
    dispatcher = Dispatcher(Registry(modules=[PROBE_MODULE]), NoLedger())
    body = _probe()
    assert dispatcher.dispatch(body, attempt=1).outcome is Outcome.SUCCEEDED
    assert dispatcher.dispatch(body, attempt=2).outcome is Outcome.SUCCEEDED
    assert counter(dynamodb, probe_env, "doubles") == 1
