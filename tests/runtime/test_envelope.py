"""The envelope: the shapes the infrastructure sends decode; bad ones fail clearly."""

from __future__ import annotations

import json

import pytest

from runtime.envelope import MAX_BODY_BYTES, decode, encode, new_envelope
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


def test_body_over_256_kib_is_refused_at_encode() -> None:
    envelope = new_envelope("generate-report", {"blob": "x" * MAX_BODY_BYTES})
    with pytest.raises(EnvelopeTooLargeError, match=r"262,144 bytes \(256 KiB\).*S3"):
        encode(envelope)


def test_body_of_exactly_256_kib_is_accepted() -> None:
    envelope = new_envelope("generate-report", {"blob": ""})
    overhead = len(encode(envelope).encode())
    envelope["payload"]["blob"] = "x" * (MAX_BODY_BYTES - overhead)
    assert len(encode(envelope).encode()) == MAX_BODY_BYTES


def test_unserializable_payload_is_refused() -> None:
    envelope = new_envelope("generate-report", {"when": object()})
    with pytest.raises(InvalidEnvelopeError, match=r"not JSON-serializable"):
        encode(envelope)
