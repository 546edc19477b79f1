"""'virus-scan-result' through the dispatcher, against moto S3 (versioned) and DynamoDB."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from runtime.dispatcher import Outcome
from runtime.tasks._records import UploadRef, UploadStatus, get_upload, put_upload_status
from runtime.tasks._upload_chunks import chunk_idempotency_key
from tests.runtime.helpers import load_event

TASK = "virus-scan-result"
PROPERTY_KEY = "uploads/properties/2026-11-27.csv"

pytestmark = pytest.mark.usefixtures("task_bucket", "task_table", "task_queue")


@pytest.fixture
def deliver(
    dispatch: Callable[..., Any], envelope_body: Callable[..., str]
) -> Callable[[dict[str, Any]], Any]:
    """Deliver an event as the EventBridge rule's input transformer wraps it."""

    def run(event: dict[str, Any]) -> Any:
        return dispatch(envelope_body(TASK, event))

    return run


def put_versions(s3: Any, key: str, *contents: bytes) -> list[str]:
    return [
        s3.put_object(Bucket="property-uploads", Key=key, Body=c)["VersionId"] for c in contents
    ]


def upload_item(table: Any, key: str, version_id: str) -> dict[str, Any]:
    item = get_upload(table, UploadRef("property-uploads", key, version_id))
    assert item is not None
    return item


def test_threats_found_moves_that_exact_version_to_quarantine_and_marks_it_infected(
    s3_client: Any, task_table: Any, deliver: Callable[..., Any], scan_event: Callable[..., Any]
) -> None:
    # GIVEN two versions of an upload; GuardDuty found threats in the first
    infected, later = put_versions(s3_client, PROPERTY_KEY, b"X5O!P%@AP EICAR", b"uprn\n")
    event = scan_event("guardduty_threats_found.json", objectKey=PROPERTY_KEY, versionId=infected)

    result = deliver(event)

    assert result.outcome is Outcome.SUCCEEDED, result.reason
    copy = s3_client.get_object(Bucket="property-uploads", Key=f"quarantine/{PROPERTY_KEY}")
    assert copy["Body"].read() == b"X5O!P%@AP EICAR"
    assert copy["Metadata"]["quarantined-from-version"] == infected
    versions = s3_client.list_object_versions(Bucket="property-uploads", Prefix=PROPERTY_KEY)
    assert [v["VersionId"] for v in versions.get("Versions", [])] == [later]
    assert "DeleteMarkers" not in versions  # deleted by version id: the bytes are gone
    item = upload_item(task_table, PROPERTY_KEY, infected)
    assert item["status"] == "infected"
    assert item["threats"] == ["EICAR-Test-File (not a virus)", "Trojan.GenericKD.46541"]


def test_clean_property_csv_is_marked_clean_and_queued_for_loading(
    s3_client: Any,
    task_table: Any,
    deliver: Callable[..., Any],
    scan_event: Callable[..., Any],
    drain_queue: Callable[[], list[str]],
) -> None:
    [version] = put_versions(s3_client, PROPERTY_KEY, b"uprn\n")
    event = scan_event(
        "guardduty_malware_scan_result.json", objectKey=PROPERTY_KEY, versionId=version
    )

    assert deliver(event).outcome is Outcome.SUCCEEDED

    assert upload_item(task_table, PROPERTY_KEY, version)["status"] == "clean"
    [body] = drain_queue()
    envelope = json.loads(body)
    assert envelope["task"] == "property-bulk-upload"
    assert envelope["payload"] == {
        "bucket": "property-uploads",
        "key": PROPERTY_KEY,
        "version_id": version,
    }
    upload = UploadRef("property-uploads", PROPERTY_KEY, version)
    assert envelope["idempotency_key"] == chunk_idempotency_key(upload, 0)


def test_clean_upload_that_is_not_a_property_csv_is_not_queued(
    task_table: Any, deliver: Callable[..., Any], drain_queue: Callable[[], list[str]]
) -> None:
    # The stored sample's key is uploads/2026/11/27/properties.csv: not under properties/
    event = load_event("guardduty_malware_scan_result.json")

    assert deliver(event).outcome is Outcome.SUCCEEDED

    details = event["detail"]["s3ObjectDetails"]
    assert upload_item(task_table, details["objectKey"], details["versionId"])["status"] == "clean"
    assert drain_queue() == []


@pytest.mark.parametrize(
    ("sample", "status"),
    [
        ("guardduty_unsupported.json", "UNSUPPORTED"),
        ("guardduty_access_denied.json", "ACCESS_DENIED"),
        ("guardduty_failed.json", "FAILED"),
    ],
)
def test_no_verdict_marks_the_upload_needs_attention_with_a_warning(
    sample: str,
    status: str,
    task_table: Any,
    deliver: Callable[..., Any],
    scan_event: Callable[..., Any],
    drain_queue: Callable[[], list[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    event = scan_event(sample, objectKey=PROPERTY_KEY, versionId="v-1")

    assert deliver(event).outcome is Outcome.SUCCEEDED

    item = upload_item(task_table, PROPERTY_KEY, "v-1")
    assert (item["status"], item["scan_status"]) == ("needs-attention", status)
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert status in warning and PROPERTY_KEY in warning
    assert drain_queue() == []


def test_second_delivery_of_the_same_message_changes_nothing(
    s3_client: Any,
    dispatch: Callable[..., Any],
    envelope_body: Callable[..., str],
    scan_event: Callable[..., Any],
    drain_queue: Callable[[], list[str]],
) -> None:
    [clean] = put_versions(s3_client, PROPERTY_KEY, b"uprn\n")
    [bad] = put_versions(s3_client, "uploads/properties/bad.csv", b"EICAR")
    bodies = [
        envelope_body(
            TASK,
            scan_event(
                "guardduty_malware_scan_result.json", objectKey=PROPERTY_KEY, versionId=clean
            ),
        ),
        envelope_body(
            TASK,
            scan_event(
                "guardduty_threats_found.json",
                objectKey="uploads/properties/bad.csv",
                versionId=bad,
            ),
        ),
    ]
    assert [dispatch(body).outcome for body in bodies] == [Outcome.SUCCEEDED] * 2

    assert [dispatch(body, attempt=2).outcome for body in bodies] == [Outcome.DUPLICATE] * 2

    assert len(drain_queue()) == 1
    quarantined = s3_client.list_object_versions(Bucket="property-uploads", Prefix="quarantine/")
    assert len(quarantined["Versions"]) == 1


def test_a_new_event_for_an_already_handled_version_sends_no_second_load_or_copy(
    s3_client: Any,
    deliver: Callable[..., Any],
    scan_event: Callable[..., Any],
    drain_queue: Callable[[], list[str]],
) -> None:
    # GIVEN each event handled once; WHEN GuardDuty reports the same versions again
    # under new event ids (the ledger cannot match them): the effects are keyed by version
    [clean] = put_versions(s3_client, PROPERTY_KEY, b"uprn\n")
    [bad] = put_versions(s3_client, "uploads/properties/bad.csv", b"EICAR")
    events = [
        scan_event("guardduty_malware_scan_result.json", objectKey=PROPERTY_KEY, versionId=clean),
        scan_event(
            "guardduty_threats_found.json", objectKey="uploads/properties/bad.csv", versionId=bad
        ),
    ]
    for event in events + events:  # new envelope ids every time
        assert deliver(event).outcome is Outcome.SUCCEEDED

    assert len(drain_queue()) == 1
    quarantined = s3_client.list_object_versions(Bucket="property-uploads", Prefix="quarantine/")
    assert len(quarantined["Versions"]) == 1


def test_late_clean_result_does_not_move_a_loaded_upload_backwards(
    task_table: Any,
    deliver: Callable[..., Any],
    scan_event: Callable[..., Any],
    drain_queue: Callable[[], list[str]],
) -> None:
    upload = UploadRef("property-uploads", PROPERTY_KEY, "v-1")
    put_upload_status(task_table, upload, UploadStatus.PROCESSED)

    event = scan_event(
        "guardduty_malware_scan_result.json", objectKey=PROPERTY_KEY, versionId="v-1"
    )
    assert deliver(event).outcome is Outcome.SUCCEEDED

    assert upload_item(task_table, PROPERTY_KEY, "v-1")["status"] == "processed"
    assert drain_queue() == []


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (load_event("scheduler_generate_report.json"), "source is None"),
        ({**load_event("guardduty_failed.json"), "detail": "oops"}, "detail must be an object"),
        (
            {
                **load_event("guardduty_failed.json"),
                "detail": {
                    **load_event("guardduty_failed.json")["detail"],
                    "scanResultDetails": {"scanResultStatus": "MAYBE"},
                },
            },
            "scanResultStatus is 'MAYBE'",
        ),
    ],
    ids=["not-guardduty", "detail-not-object", "unknown-status"],
)
def test_payload_that_is_not_a_scan_result_event_is_dead_lettered_with_the_reason(
    event: dict[str, Any], reason: str, deliver: Callable[..., Any]
) -> None:
    result = deliver(event)

    assert result.outcome is Outcome.DEAD_LETTER
    assert result.reason.startswith("PayloadValidationError")
    assert reason in result.reason


def test_scan_result_for_another_bucket_is_dead_lettered(
    s3_client: Any, deliver: Callable[..., Any], scan_event: Callable[..., Any]
) -> None:
    event = scan_event("guardduty_threats_found.json", bucketName="someone-elses-bucket")

    result = deliver(event)

    assert result.outcome is Outcome.DEAD_LETTER
    assert "owns bucket 'property-uploads'" in result.reason


def test_eventbridge_wrapped_sample_is_handled(
    task_table: Any, dispatch: Callable[..., Any]
) -> None:
    body = json.dumps(load_event("eventbridge_virus_scan_result.json"))

    assert dispatch(body).outcome is Outcome.SUCCEEDED
    assert dispatch(body).outcome is Outcome.DUPLICATE
    assert (
        upload_item(
            task_table, "uploads/2026/11/27/properties.csv", "d41d8cd98f00b204e9800998ecf8427e"
        )["status"]
        == "clean"
    )
