"""The envelope: the shapes the infrastructure sends decode; bad ones fail clearly."""

from __future__ import annotations

import json

import pytest

from runtime.contract.payload_limits import SHARED_QUEUE_PATH, SQS_MESSAGE_BYTES, TASK_QUEUE_PATH
from runtime.envelope import SMALLEST_PATH, Envelope, decode, encode, new_envelope
from runtime.errors import EnvelopeTooLargeError, InvalidEnvelopeError
from tests.runtime.helpers import EVENTS, load_event


def test_scheduler_input_with_substituted_placeholders_decodes() -> None:
    envelope = decode((EVENTS / "scheduler_generate_report.json").read_text())
    assert envelope["task"] == "generate-report"
    assert envelope["created_at"] == "2026-11-27T02:00:00Z"
    assert envelope["payload"] == {"period": "previous-day"}


def test_eventbridge_input_transformer_output_decodes_with_the_whole_event() -> None:
    event = load_event("guardduty_malware_scan_result.json")
    envelope = decode((EVENTS / "eventbridge_virus_scan_result.json").read_text())
    assert envelope["task"] == "virus-scan-result"
    assert envelope["id"] == event["id"]
    assert envelope["created_at"] == event["time"]
    assert envelope["payload"] == event


def test_round_trip_keeps_every_field() -> None:
    envelope = new_envelope("generate-report", {"period": "x"}, idempotency_key="k", trace="t")
    assert decode(encode(envelope)) == envelope
    assert envelope["created_at"].endswith("Z")


def test_new_envelopes_get_unique_ids() -> None:
    ids = {new_envelope("generate-report", {})["id"] for _ in range(100)}
    assert len(ids) == 100


def test_decode_names_every_problem_at_once() -> None:
    body = json.dumps({"task": "", "version": 2, "created_at": "yesterday", "extra": 1})
    with pytest.raises(InvalidEnvelopeError) as raised:
        decode(body)
    message = str(raised.value)
    for fragment in (
        "missing 'id'",
        "missing 'payload'",
        "unknown field(s) ['extra']",
        "'task' must be",
        "'version' must be 1",
        "'created_at' must be",
    ):
        assert fragment in message


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('{"task": "x"', "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_malformed_bodies_are_invalid_envelopes(body: str | bytes, fragment: str) -> None:
    with pytest.raises(InvalidEnvelopeError, match=fragment):
        decode(body)


def test_boolean_version_and_zoneless_time_are_rejected() -> None:
    raw = dict(new_envelope("generate-report", {}))
    raw.update(version=True, created_at="2026-11-27T02:00:00")
    with pytest.raises(InvalidEnvelopeError, match=r"'version' must be 1.*'created_at'"):
        decode(json.dumps(raw))


def test_payload_must_be_an_object() -> None:
    raw = dict(new_envelope("generate-report", {}))
    raw["payload"] = [1]
    with pytest.raises(InvalidEnvelopeError, match=r"'payload' must be an object"):
        decode(json.dumps(raw))


def _envelope_of(size: int) -> Envelope:
    envelope = new_envelope("generate-report", {"blob": ""})
    overhead = len(encode(envelope).encode())
    envelope["payload"]["blob"] = "x" * (size - overhead)
    return envelope


def test_body_over_the_smallest_path_limit_is_refused_naming_path_and_limit() -> None:
    with pytest.raises(EnvelopeTooLargeError, match=r"1,000,000 bytes \(Lambda's 1 MB.*S3"):
        encode(_envelope_of(SMALLEST_PATH.max_bytes + 1))


def test_each_path_takes_up_to_its_own_limit() -> None:
    # The shared queue (ECS consumers) takes what a Lambda-consumed queue cannot.
    big = _envelope_of(SHARED_QUEUE_PATH.max_bytes)
    assert len(encode(big, SHARED_QUEUE_PATH).encode()) == SHARED_QUEUE_PATH.max_bytes
    with pytest.raises(EnvelopeTooLargeError, match=r"per-task SQS queue to its Lambda"):
        encode(big, TASK_QUEUE_PATH)
    with pytest.raises(EnvelopeTooLargeError, match=r"shared SQS queue"):
        encode(_envelope_of(SHARED_QUEUE_PATH.max_bytes + 1), SHARED_QUEUE_PATH)
    assert SHARED_QUEUE_PATH.max_bytes < SQS_MESSAGE_BYTES == 1_048_576


def test_body_of_exactly_the_limit_is_accepted() -> None:
    assert len(encode(_envelope_of(SMALLEST_PATH.max_bytes)).encode()) == SMALLEST_PATH.max_bytes


def test_unserializable_payload_is_refused() -> None:
    envelope = new_envelope("generate-report", {"when": object()})
    with pytest.raises(InvalidEnvelopeError, match=r"not JSON-serializable"):
        encode(envelope)
