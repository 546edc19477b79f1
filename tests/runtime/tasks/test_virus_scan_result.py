"""'virus-scan-result' through the dispatcher, against moto S3 (versioned) and DynamoDB.

Objects are tagged as GuardDuty tags them when the plan's tagging action is on
(``GuardDutyMalwareScanStatus = <scanResultStatus>``: "Monitoring S3 object scans with
GuardDuty managed tags",
https://docs.aws.amazon.com/guardduty/latest/ug/monitor-enable-s3-object-tagging-malware-protection.html),
since the handler acts only on a result that tag confirms.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from runtime.dispatcher import Outcome
from runtime.tasks.uploads.chunks import chunk_idempotency_key
from runtime.tasks.uploads.model import UploadRef, UploadStatus, get_upload, put_upload_status
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


def guardduty_tags(s3: Any, key: str, version_id: str, status: str) -> None:
    """Tag a version as GuardDuty does after scanning it."""
    s3.put_object_tagging(
        Bucket="property-uploads",
        Key=key,
        VersionId=version_id,
        Tagging={"TagSet": [{"Key": "GuardDutyMalwareScanStatus", "Value": status}]},
    )


def scanned(s3: Any, key: str, status: str, body: bytes = b"uprn\n") -> str:
    """Upload one version and tag it with GuardDuty's verdict; returns its version id."""
    [version] = put_versions(s3, key, body)
    guardduty_tags(s3, key, version, status)
    return version


def upload_item(table: Any, key: str, version_id: str) -> dict[str, Any]:
    item = get_upload(table, UploadRef("property-uploads", key, version_id))
    assert item is not None
    return item


def test_threats_found_marks_that_exact_version_infected_and_leaves_it_in_place(
    s3_client: Any, task_table: Any, deliver: Callable[..., Any], scan_event: Callable[..., Any]
) -> None:
    # GIVEN two versions of an upload; GuardDuty found threats in the first
    infected, later = put_versions(s3_client, PROPERTY_KEY, b"X5O!P%@AP EICAR", b"uprn\n")
    guardduty_tags(s3_client, PROPERTY_KEY, infected, "THREATS_FOUND")
    event = scan_event("guardduty_threats_found.json", objectKey=PROPERTY_KEY, versionId=infected)

    result = deliver(event)

    assert result.outcome is Outcome.SUCCEEDED, result.reason
    # Nothing is moved or copied: the tag-based bucket policy keeps it unreadable
    # (tests/stacks/test_deployability.py checks that policy on every topology).
    versions = s3_client.list_object_versions(Bucket="property-uploads")
    assert sorted(v["VersionId"] for v in versions["Versions"]) == sorted([infected, later])
    assert {v["Key"] for v in versions["Versions"]} == {PROPERTY_KEY}
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
    version = scanned(s3_client, PROPERTY_KEY, "NO_THREATS_FOUND")
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
    s3_client: Any,
    task_table: Any,
    deliver: Callable[..., Any],
    scan_event: Callable[..., Any],
    drain_queue: Callable[[], list[str]],
) -> None:
    # The stored sample's key is uploads/2026/11/27/properties.csv: not under properties/
    key = load_event("guardduty_malware_scan_result.json")["detail"]["s3ObjectDetails"]["objectKey"]
    version = scanned(s3_client, key, "NO_THREATS_FOUND")
    event = scan_event("guardduty_malware_scan_result.json", versionId=version)

    assert deliver(event).outcome is Outcome.SUCCEEDED

    assert upload_item(task_table, key, version)["status"] == "clean"
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
    s3_client: Any,
    task_table: Any,
    deliver: Callable[..., Any],
    scan_event: Callable[..., Any],
    drain_queue: Callable[[], list[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    version = scanned(s3_client, PROPERTY_KEY, status)
    event = scan_event(sample, objectKey=PROPERTY_KEY, versionId=version)

    assert deliver(event).outcome is Outcome.SUCCEEDED

    item = upload_item(task_table, PROPERTY_KEY, version)
    assert (item["status"], item["scan_status"]) == ("needs-attention", status)
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert status in warning and PROPERTY_KEY in warning
    assert drain_queue() == []


def test_second_delivery_of_the_same_message_changes_nothing(
    s3_client: Any,
    task_table: Any,
    dispatch: Callable[..., Any],
    envelope_body: Callable[..., str],
    scan_event: Callable[..., Any],
    drain_queue: Callable[[], list[str]],
) -> None:
    clean = scanned(s3_client, PROPERTY_KEY, "NO_THREATS_FOUND")
    bad = scanned(s3_client, "uploads/properties/bad.csv", "THREATS_FOUND", b"EICAR")
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
    assert upload_item(task_table, "uploads/properties/bad.csv", bad)["status"] == "infected"


def test_a_new_event_for_an_already_handled_version_sends_no_second_load(
    s3_client: Any,
    deliver: Callable[..., Any],
    scan_event: Callable[..., Any],
    drain_queue: Callable[[], list[str]],
) -> None:
    # GIVEN each event handled once; WHEN GuardDuty reports the same versions again
    # under new event ids (the ledger cannot match them): the effects are keyed by version
    clean = scanned(s3_client, PROPERTY_KEY, "NO_THREATS_FOUND")
    bad = scanned(s3_client, "uploads/properties/bad.csv", "THREATS_FOUND", b"EICAR")
    events = [
        scan_event("guardduty_malware_scan_result.json", objectKey=PROPERTY_KEY, versionId=clean),
        scan_event(
            "guardduty_threats_found.json", objectKey="uploads/properties/bad.csv", versionId=bad
        ),
    ]
    for event in events + events:  # new envelope ids every time
        assert deliver(event).outcome is Outcome.SUCCEEDED

    assert len(drain_queue()) == 1
    versions = s3_client.list_object_versions(Bucket="property-uploads")["Versions"]
    assert len(versions) == 2  # both uploads, untouched


def test_late_clean_result_does_not_move_a_loaded_upload_backwards(
    s3_client: Any,
    task_table: Any,
    deliver: Callable[..., Any],
    scan_event: Callable[..., Any],
    drain_queue: Callable[[], list[str]],
) -> None:
    version = scanned(s3_client, PROPERTY_KEY, "NO_THREATS_FOUND")
    upload = UploadRef("property-uploads", PROPERTY_KEY, version)
    put_upload_status(task_table, upload, UploadStatus.PROCESSED)

    event = scan_event(
        "guardduty_malware_scan_result.json", objectKey=PROPERTY_KEY, versionId=version
    )
    assert deliver(event).outcome is Outcome.SUCCEEDED

    assert upload_item(task_table, PROPERTY_KEY, version)["status"] == "processed"
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
    s3_client: Any, task_table: Any, dispatch: Callable[..., Any]
) -> None:
    # moto picks its own version ids, so the sample names the version it made
    key = "uploads/2026/11/27/properties.csv"
    version = scanned(s3_client, key, "NO_THREATS_FOUND")
    envelope = load_event("eventbridge_virus_scan_result.json")
    envelope["payload"]["detail"]["s3ObjectDetails"]["versionId"] = version
    body = json.dumps(envelope)

    assert dispatch(body).outcome is Outcome.SUCCEEDED
    assert dispatch(body).outcome is Outcome.DUPLICATE
    assert upload_item(task_table, key, version)["status"] == "clean"


# --- Forged or unconfirmed results (the tag is GuardDuty's; the event may not be) ---


def test_a_forged_clean_result_for_an_infected_upload_changes_nothing(
    s3_client: Any,
    task_table: Any,
    deliver: Callable[..., Any],
    scan_event: Callable[..., Any],
    drain_queue: Callable[[], list[str]],
) -> None:
    # GIVEN GuardDuty found threats in the version (and tagged it so), but the
    # threats event has not been handled yet
    infected = scanned(s3_client, PROPERTY_KEY, "THREATS_FOUND", b"EICAR")
    put_upload_status(
        task_table, UploadRef("property-uploads", PROPERTY_KEY, infected), UploadStatus.SCANNING
    )
    # WHEN someone who may enqueue tasks sends a NO_THREATS_FOUND for it
    forged = scan_event(
        "guardduty_malware_scan_result.json", objectKey=PROPERTY_KEY, versionId=infected
    )

    result = deliver(forged)

    # THEN it is dead-lettered with both verdicts named, and nothing happened
    assert result.outcome is Outcome.DEAD_LETTER
    assert "ScanResultMismatchError" in result.reason
    assert "says NO_THREATS_FOUND" in result.reason
    assert "GuardDutyMalwareScanStatus=THREATS_FOUND" in result.reason
    assert upload_item(task_table, PROPERTY_KEY, infected)["status"] == "scanning"
    assert drain_queue() == []  # not queued for loading
    body = s3_client.get_object(Bucket="property-uploads", Key=PROPERTY_KEY, VersionId=infected)
    assert body["Body"].read() == b"EICAR"


def test_a_forged_threats_result_for_a_clean_upload_changes_nothing(
    s3_client: Any, task_table: Any, deliver: Callable[..., Any], scan_event: Callable[..., Any]
) -> None:
    clean = scanned(s3_client, PROPERTY_KEY, "NO_THREATS_FOUND")
    forged = scan_event("guardduty_threats_found.json", objectKey=PROPERTY_KEY, versionId=clean)

    result = deliver(forged)

    assert result.outcome is Outcome.DEAD_LETTER
    assert "GuardDutyMalwareScanStatus=NO_THREATS_FOUND" in result.reason
    versions = s3_client.list_object_versions(Bucket="property-uploads")
    assert [(v["Key"], v["VersionId"]) for v in versions["Versions"]] == [(PROPERTY_KEY, clean)]
    assert get_upload(task_table, UploadRef("property-uploads", PROPERTY_KEY, clean)) is None


@pytest.mark.parametrize(
    "sample",
    ["guardduty_malware_scan_result.json", "guardduty_threats_found.json", "guardduty_failed.json"],
)
def test_a_result_guardduty_has_not_tagged_yet_is_retried_without_effect(
    sample: str,
    s3_client: Any,
    task_table: Any,
    deliver: Callable[..., Any],
    scan_event: Callable[..., Any],
    drain_queue: Callable[[], list[str]],
) -> None:
    [version] = put_versions(s3_client, PROPERTY_KEY, b"uprn\n")  # no tag

    result = deliver(scan_event(sample, objectKey=PROPERTY_KEY, versionId=version))

    assert result.outcome is Outcome.RETRY
    assert "ScanTagPendingError" in result.reason
    assert "has not tagged" in result.reason
    assert get_upload(task_table, UploadRef("property-uploads", PROPERTY_KEY, version)) is None
    assert drain_queue() == []
    assert len(s3_client.list_object_versions(Bucket="property-uploads")["Versions"]) == 1


def test_the_retry_succeeds_once_guardduty_has_tagged_the_version(
    s3_client: Any,
    task_table: Any,
    dispatch: Callable[..., Any],
    envelope_body: Callable[..., str],
    scan_event: Callable[..., Any],
    drain_queue: Callable[[], list[str]],
) -> None:
    [version] = put_versions(s3_client, PROPERTY_KEY, b"uprn\n")
    body = envelope_body(
        TASK,
        scan_event("guardduty_malware_scan_result.json", objectKey=PROPERTY_KEY, versionId=version),
    )
    assert dispatch(body).outcome is Outcome.RETRY

    guardduty_tags(s3_client, PROPERTY_KEY, version, "NO_THREATS_FOUND")

    assert dispatch(body, attempt=2).outcome is Outcome.SUCCEEDED
    assert upload_item(task_table, PROPERTY_KEY, version)["status"] == "clean"
    assert len(drain_queue()) == 1


def test_a_result_for_a_version_that_no_longer_exists_is_ignored(
    s3_client: Any,
    task_table: Any,
    deliver: Callable[..., Any],
    scan_event: Callable[..., Any],
    drain_queue: Callable[[], list[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    version = scanned(s3_client, PROPERTY_KEY, "NO_THREATS_FOUND")
    s3_client.delete_object(Bucket="property-uploads", Key=PROPERTY_KEY, VersionId=version)

    event = scan_event(
        "guardduty_malware_scan_result.json", objectKey=PROPERTY_KEY, versionId=version
    )
    assert deliver(event).outcome is Outcome.SUCCEEDED

    assert get_upload(task_table, UploadRef("property-uploads", PROPERTY_KEY, version)) is None
    assert drain_queue() == []
    assert any("no longer exists" in r.getMessage() for r in caplog.records)


# --- Scan scope: the plan scans uploads/ only ---


@pytest.mark.parametrize(
    ("sample", "key"),
    [
        ("guardduty_malware_scan_result.json", "reports/2026-11-27_2026-11-27/summary.json"),
        ("guardduty_threats_found.json", f"other/{PROPERTY_KEY}"),
        ("guardduty_failed.json", "results/uploads/properties/x.csv.json"),
    ],
)
def test_a_result_outside_uploads_is_ignored_with_a_warning(
    sample: str,
    key: str,
    s3_client: Any,
    task_table: Any,
    deliver: Callable[..., Any],
    scan_event: Callable[..., Any],
    drain_queue: Callable[[], list[str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Even with a matching GuardDuty tag, a key outside the plan's scope is not acted on.
    status = load_event(sample)["detail"]["scanResultDetails"]["scanResultStatus"]
    version = scanned(s3_client, key, status)
    event = scan_event(sample, objectKey=key, versionId=version)

    result = deliver(event)

    assert result.outcome is Outcome.SUCCEEDED
    assert get_upload(task_table, UploadRef("property-uploads", key, version)) is None
    assert drain_queue() == []
    versions = s3_client.list_object_versions(Bucket="property-uploads")["Versions"]
    assert [(v["Key"], v["VersionId"]) for v in versions] == [(key, version)]
    [warning] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert "outside uploads/" in warning.getMessage()
    assert warning.__dict__["bucket"] == "property-uploads"
    assert warning.__dict__["key"] == key
    assert warning.__dict__["event_id"] == event["id"]
