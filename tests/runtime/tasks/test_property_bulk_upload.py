"""'property-bulk-upload' through the dispatcher, against moto S3 (versioned) and DynamoDB."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from runtime.aws_clients import client as runtime_client
from runtime.dispatcher import Outcome
from runtime.tasks.uploads.csv_rows import RecordReader
from runtime.tasks.uploads.model import UploadRef, UploadStatus, get_upload, put_upload_status

TASK = "property-bulk-upload"
BUCKET = "property-uploads"
KEY = "uploads/properties/batch.csv"
HEADER = (
    "uprn,address_line_1,address_line_2,address_line_3,town,postcode,property_type,"
    "floor_area_sqm,build_year\n"
)

pytestmark = pytest.mark.usefixtures("task_bucket", "task_table", "task_queue")


@pytest.fixture
def clean_upload(s3_client: Any, task_table: Any) -> Callable[[bytes], UploadRef]:
    """Put a CSV into uploads/ and mark it clean, as virus-scan-result would."""

    def put(content: bytes) -> UploadRef:
        version = s3_client.put_object(Bucket=BUCKET, Key=KEY, Body=content)["VersionId"]
        upload = UploadRef(BUCKET, KEY, version)
        put_upload_status(task_table, upload, UploadStatus.CLEAN, scan_status="NO_THREATS_FOUND")
        return upload

    return put


@pytest.fixture
def start(
    dispatch: Callable[..., Any], envelope_body: Callable[..., str]
) -> Callable[[UploadRef], Any]:
    def run(upload: UploadRef) -> Any:
        payload = {"bucket": upload.bucket, "key": upload.key, "version_id": upload.version_id}
        return dispatch(envelope_body(TASK, payload))

    return run


def result_object(s3: Any) -> dict[str, Any]:
    body = s3.get_object(Bucket=BUCKET, Key=f"results/{KEY}.json")["Body"].read()
    return dict(json.loads(body))


def upload_item(table: Any, upload: UploadRef) -> dict[str, Any]:
    item = get_upload(table, upload)
    assert item is not None
    return item


def test_valid_rows_are_loaded_and_every_rejected_row_is_reported_by_row_number(
    s3_client: Any,
    task_table: Any,
    clean_upload: Callable[..., UploadRef],
    start: Callable[..., Any],
) -> None:
    # GIVEN a UTF-8 file with a BOM, a mixed-case header and two bad rows out of five
    content = (
        "\ufeffUPRN,Address_Line_1,address_line_2,town,postcode,property_type,floor_area_sqm,build_year\n"
        "100023336956,10 Downing Street,,London,sw1a2aa,Terraced,312.5,1735\n"
        "abc,1 High St,,Leeds,LS1 1AA,flat,,\n"
        '42,"Flat 2, Rose Court",Mill Lane,Bristol,BS1 4DJ,flat,55,2001\n'
        "\n"
        "43,1 Low St,,York,NOT A CODE,castle,5,3000\n"
        "44,Gate Lodge,,Girobank,GIR 0AA,other,,\n"
    ).encode()
    upload = clean_upload(content)

    result = start(upload)

    assert result.outcome is Outcome.SUCCEEDED, result.reason
    report = result_object(s3_client)
    assert (report["status"], report["rows_total"], report["rows_loaded"]) == ("processed", 5, 3)
    assert [r["row"] for r in report["rejected_rows"]] == [3, 6]
    assert "uprn: must be 1 to 12 digits" in report["rejected_rows"][0]["reason"]
    assert all(
        part in report["rejected_rows"][1]["reason"]
        for part in ("postcode:", "property_type:", "floor_area_sqm:", "build_year:")
    )
    item = task_table.get_item(Key={"pk": "property#100023336956", "sk": "record"})["Item"]
    assert item["postcode"] == "SW1A 2AA" and item["postcode_area"] == "SW"
    assert item["property_type"] == "terraced" and item["floor_area_sqm"] == Decimal("312.5")
    assert item["build_year"] == 1735 and item["upload_key"] == KEY
    flat = task_table.get_item(Key={"pk": "property#42", "sk": "record"})["Item"]
    assert flat["address_lines"] == ["Flat 2, Rose Court", "Mill Lane"]
    status = upload_item(task_table, upload)
    assert (status["status"], status["rows_rejected"]) == ("processed", 2)
    assert status["result_key"] == f"results/{KEY}.json"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty"),
        (b"\xef\xbb\xbf\n\n", "the file is empty"),
        (HEADER.encode(), "a header but no data rows"),
        (b"id,street,city\n1,a,b\n", "wrong header: missing required column(s)"),
        (
            HEADER.replace("town", "town,colour").encode() + b"1,a,,,b,SW1A 1AA,flat,,,red\n",
            "unknown column(s) ['colour']",
        ),
        (
            HEADER.encode() + "1,Caf\u00e9 Row,,,Leeds,LS1 1AA,flat,,\n".encode("latin-1"),
            "not UTF-8",
        ),
        (HEADER.encode() + b"x" * 70_000, "a line is longer than 65536 bytes"),
    ],
    ids=[
        "empty",
        "only-bom",
        "header-only",
        "wrong-header",
        "extra-column",
        "latin-1",
        "no-newlines",
    ],
)
def test_unreadable_file_fails_with_a_result_and_is_dead_lettered_with_the_reason(
    content: bytes,
    reason: str,
    s3_client: Any,
    task_table: Any,
    clean_upload: Callable[..., UploadRef],
    start: Callable[..., Any],
) -> None:
    upload = clean_upload(content)

    result = start(upload)

    assert result.outcome is Outcome.DEAD_LETTER
    assert result.reason.startswith("UploadFailedError") and reason in result.reason
    assert result_object(s3_client)["status"] == "failed"
    assert reason in result_object(s3_client)["reason"]
    item = upload_item(task_table, upload)
    assert item["status"] == "failed" and reason in item["reason"]


def test_file_above_the_size_limit_fails_without_loading_anything(
    s3_client: Any,
    task_table: Any,
    clean_upload: Callable[..., UploadRef],
    start: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ASYNC_TASKS_UPLOAD_MAX_BYTES", "100")
    upload = clean_upload(HEADER.encode() + b"1,a,,,Leeds,LS1 1AA,flat,,\n" * 10)

    result = start(upload)

    assert result.outcome is Outcome.DEAD_LETTER
    assert "the limit is 100" in result_object(s3_client)["reason"]
    assert "Item" not in task_table.get_item(Key={"pk": "property#1", "sk": "record"})


@pytest.mark.parametrize("status", [None, UploadStatus.INFECTED, UploadStatus.NEEDS_ATTENTION])
def test_upload_not_scanned_clean_is_refused(
    status: UploadStatus | None,
    s3_client: Any,
    task_table: Any,
    start: Callable[..., Any],
) -> None:
    version = s3_client.put_object(Bucket=BUCKET, Key=KEY, Body=HEADER.encode())["VersionId"]
    upload = UploadRef(BUCKET, KEY, version)
    if status is not None:
        put_upload_status(task_table, upload, status)

    result = start(upload)

    assert result.outcome is Outcome.DEAD_LETTER
    assert "only uploads GuardDuty marked clean are loaded" in result.reason


def test_with_scanning_off_an_upload_nobody_scanned_loads_and_says_unscanned(
    s3_client: Any,
    task_table: Any,
    start: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a deployment without malware protection, and an upload no scan judged
    monkeypatch.setenv("ASYNC_TASKS_UPLOAD_SCANNING", "off")
    body = HEADER + "100,1 High St,,,Leeds,LS1 1AA,flat,50,1990\n"
    version = s3_client.put_object(Bucket=BUCKET, Key=KEY, Body=body.encode())["VersionId"]
    upload = UploadRef(BUCKET, KEY, version)

    # WHEN the web app's enqueued load runs
    result = start(upload)

    # THEN it loads, and the upload says no scan ran
    assert result.outcome is Outcome.SUCCEEDED, result.reason
    item = upload_item(task_table, upload)
    assert (item["status"], item["scan_status"], item["rows_loaded"]) == (
        "processed",
        "NOT_SCANNED",
        1,
    )


@pytest.mark.parametrize(
    "status", [UploadStatus.INFECTED, UploadStatus.NEEDS_ATTENTION, UploadStatus.SCANNING]
)
def test_with_scanning_off_an_upload_a_scan_judged_is_still_refused(
    status: UploadStatus,
    s3_client: Any,
    task_table: Any,
    start: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ASYNC_TASKS_UPLOAD_SCANNING", "off")
    version = s3_client.put_object(Bucket=BUCKET, Key=KEY, Body=HEADER.encode())["VersionId"]
    upload = UploadRef(BUCKET, KEY, version)
    put_upload_status(task_table, upload, status)

    result = start(upload)

    assert result.outcome is Outcome.DEAD_LETTER
    assert "a malware scan judged is loaded only if it was found clean" in result.reason


def test_payload_without_bucket_or_with_half_a_checkpoint_is_dead_lettered(
    dispatch: Callable[..., Any], envelope_body: Callable[..., str]
) -> None:
    result = dispatch(envelope_body(TASK, {"key": KEY, "start_row": 5}))

    assert result.outcome is Outcome.DEAD_LETTER
    assert "'bucket' must be a non-empty string" in result.reason
    assert "'start_row' and 'chunk' come together" in result.reason


def test_second_delivery_of_the_same_message_changes_nothing(
    task_table: Any,
    clean_upload: Callable[..., UploadRef],
    dispatch: Callable[..., Any],
    envelope_body: Callable[..., str],
    batch_written_keys: list[str],
) -> None:
    upload = clean_upload(HEADER.encode() + b"7,a,,,Leeds,LS1 1AA,flat,,\n")
    body = envelope_body(TASK, {"bucket": BUCKET, "key": KEY, "version_id": upload.version_id})
    assert dispatch(body).outcome is Outcome.SUCCEEDED
    processed_at = upload_item(task_table, upload)["processed_at"]

    assert dispatch(body, attempt=2).outcome is Outcome.DUPLICATE

    assert batch_written_keys == ["property#7"]
    assert upload_item(task_table, upload)["processed_at"] == processed_at


def test_reader_resumes_at_the_checkpoint_offset_across_quoted_newlines_and_crlf() -> None:
    data = b'a,b\r\n1,"two\r\nlines"\r\n\r\n3,x\n4,"q""uote"'
    everything = list(RecordReader(iter([data[i : i + 3] for i in range(0, len(data), 3)])))
    assert [(r.row, r.fields) for r in everything] == [
        (1, ["a", "b"]),
        (2, ["1", "two\r\nlines"]),
        (4, ["3", "x"]),
        (5, ["4", 'q"uote']),
    ]
    offset = everything[1].next_offset
    rest = RecordReader(io.BytesIO(data[offset:]), start_offset=offset, first_row=3)
    assert [(r.row, r.fields) for r in rest] == [(4, ["3", "x"]), (5, ["4", 'q"uote'])]


@pytest.mark.slow
def test_large_file_is_loaded_in_chunks_exactly_once_and_a_redelivered_chunk_changes_nothing(
    s3_client: Any,
    task_table: Any,
    clean_upload: Callable[..., UploadRef],
    start: Callable[..., Any],
    dispatch: Callable[..., Any],
    drain_queue: Callable[[], list[str]],
    batch_written_keys: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN 100,000 data rows, every 1,000th invalid, loaded 30,000 rows per chunk
    monkeypatch.setenv("ASYNC_TASKS_UPLOAD_CHUNK_ROWS", "30000")
    rows = 100_000
    lines = [HEADER]
    for n in range(1, rows + 1):
        postcode = "BAD" if n % 1000 == 0 else "LS1 1AA"
        lines.append(f"{n},{n} Long Road,,,Leeds,{postcode},terraced,80.5,1990\n")
    upload = clean_upload("".join(lines).encode())
    ranges: list[str] = []

    def record_range(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key") == KEY:
            ranges.append(params.get("Range", "full"))

    # The handler's S3 client is the runtime's cached one.
    handler_s3 = runtime_client("s3")
    handler_s3.meta.events.register("provide-client-params.s3.GetObject", record_range)

    # WHEN the worker runs the first task and then every continuation it enqueues,
    # delivering each continuation twice
    assert start(upload).outcome is Outcome.SUCCEEDED
    outcomes = []
    while bodies := drain_queue():
        for body in bodies:
            outcomes.append(dispatch(body).outcome)
            outcomes.append(dispatch(body, attempt=2).outcome)
    handler_s3.meta.events.unregister("provide-client-params.s3.GetObject", record_range)

    # THEN four chunks ran once each; later chunks read from their offset, not the start
    assert outcomes == [Outcome.SUCCEEDED, Outcome.DUPLICATE] * 3
    assert ranges[0] == "full" and len(ranges) == 4
    assert all(r.startswith("bytes=") and not r.startswith("bytes=0-") for r in ranges[1:])
    valid = {f"property#{n}" for n in range(1, rows + 1) if n % 1000}
    assert len(batch_written_keys) == len(valid) and set(batch_written_keys) == valid
    report = result_object(s3_client)
    assert (report["rows_total"], report["rows_loaded"], report["rows_rejected"]) == (
        100_000,
        99_900,
        100,
    )
    # The header is row 1, so data row n is spreadsheet row n + 1.
    assert [r["row"] for r in report["rejected_rows"]] == [
        n + 1 for n in range(1000, rows + 1, 1000)
    ]
    assert upload_item(task_table, upload)["status"] == "processed"
    parts = s3_client.list_objects_v2(Bucket=BUCKET, Prefix=f"results/{KEY}.parts/")
    assert parts.get("KeyCount", 0) == 0
