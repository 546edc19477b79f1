"""Inputs and probes shared by the local end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path
from typing import Any

import boto3

from local.synth import LOCAL_EMAIL_SENDER
from runtime.tasks.scans.verdict import SCAN_STATUS_TAG

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EVENTS = PROJECT_ROOT / "tests" / "events"
PROPERTY_KEY = "uploads/properties/local-e2e.csv"
PROPERTY_CSV = (
    "uprn,address_line_1,address_line_2,address_line_3,town,postcode,property_type,"
    "floor_area_sqm,build_year\n"
    "100,1 High St,,,Leeds,LS1 1AA,flat,55,1990\n"
    "101,2 High St,,,Leeds,LS1 1AB,terraced,,\n"
    "102,3 High St,,,Leeds,NOT A POSTCODE,terraced,,\n"
)
EMAIL_TEMPLATE = "weekly-digest"


def scanned_upload(bucket: str, key: str, body: bytes, status: str) -> str:
    """Put ``body`` in the uploads bucket and tag that version as GuardDuty does after a
    scan ("Monitoring S3 object scans with GuardDuty managed tags"); returns its version
    id. The scan-result handler acts only on a verdict the tag confirms."""
    s3 = boto3.client("s3")
    version = str(s3.put_object(Bucket=bucket, Key=key, Body=body).get("VersionId", "null"))
    s3.put_object_tagging(
        Bucket=bucket,
        Key=key,
        VersionId=version,
        Tagging={"TagSet": [{"Key": SCAN_STATUS_TAG, "Value": status}]},
    )
    return version


def put_upload(bucket: str, key: str = PROPERTY_KEY) -> str:
    """The property CSV put as the web app puts it, untagged; returns its version id."""
    response = boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=PROPERTY_CSV.encode())
    return str(response.get("VersionId", "null"))


def upload_clean_candidate(bucket: str, key: str = PROPERTY_KEY) -> str:
    """The property CSV, scanned clean; returns its version id."""
    return scanned_upload(bucket, key, PROPERTY_CSV.encode(), "NO_THREATS_FOUND")


def scan_result_event(bucket: str, key: str, version_id: str) -> dict[str, Any]:
    """GuardDuty's NO_THREATS_FOUND event (the sample) for that object version."""
    event: dict[str, Any] = json.loads((EVENTS / "guardduty_malware_scan_result.json").read_text())
    details = event["detail"]["s3ObjectDetails"]
    details.update(bucketName=bucket, objectKey=key, versionId=version_id)
    return event


def bounce_event(address: str, *, campaign: str, message_id: str) -> dict[str, Any]:
    """SES's permanent bounce (the sample) for ``address``, tagged with ``campaign``, for
    the message SES accepted as ``message_id`` (email-feedback checks it in the ledger)."""
    event: dict[str, Any] = json.loads((EVENTS / "ses_bounce.json").read_text())
    event["detail"]["bounce"]["bouncedRecipients"][0]["emailAddress"] = address
    event["detail"]["mail"]["destination"] = [address]
    event["detail"]["mail"]["tags"]["campaign"] = [campaign]
    event["detail"]["mail"]["messageId"] = message_id
    return event


def deliver_event(producer_env: Mapping[str, str], task: str, event: Mapping[str, Any]) -> str:
    """Deliver an AWS event the way the task's EventBridge rule does: its input
    transformer wraps the whole event in an envelope (id = the event id) and sends it to
    the task's queue. The producer refuses event-only tasks, so tests stand in for the
    rule here; returns the envelope id."""
    from runtime.envelope import encode, new_envelope
    from runtime.producer import QUEUE_URL_ENV, queue_url_env_for

    queue_url = producer_env.get(queue_url_env_for(task)) or producer_env[QUEUE_URL_ENV]
    envelope = new_envelope(task, event)
    boto3.client("sqs").send_message(QueueUrl=queue_url, MessageBody=encode(envelope))
    return str(envelope["id"])


def report_payload() -> dict[str, str]:
    today = date.today().isoformat()
    return {"from": today, "to": today}


def create_email_template() -> None:
    ses = boto3.client("ses")
    ses.verify_email_identity(EmailAddress=LOCAL_EMAIL_SENDER)
    with suppress(ses.exceptions.AlreadyExistsException):
        ses.create_template(
            Template={"TemplateName": EMAIL_TEMPLATE, "SubjectPart": "Hi", "TextPart": "x"}
        )


def table_item(table: str, pk: str, sk: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = (
        boto3.resource("dynamodb").Table(table).get_item(Key={"pk": pk, "sk": sk}).get("Item")
    )
    return item


def query_items(table: str, pk: str) -> list[dict[str, Any]]:
    response = (
        boto3.resource("dynamodb")
        .Table(table)
        .query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": pk})
    )
    return list(response["Items"])


def object_keys(bucket: str, prefix: str) -> list[str]:
    response = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for item in response.get("Contents", [])]


def receive_all(queue_url: str) -> list[Mapping[str, Any]]:
    """Every message now visible (DLQ inspection; leaves them invisible for 30 s)."""
    sqs = boto3.client("sqs")
    messages: list[Mapping[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30
    ).get("Messages", []):
        messages += batch
    return messages


def queue_depth(queue_url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.3)


@contextmanager
def worker_process(queue_url: str, env: Mapping[str, str]) -> Iterator[subprocess.Popen[str]]:
    """``python -m runtime.worker`` as the worker service's container runs it; SIGTERM
    on exit (the drain path), and the exit code must be 0."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runtime.worker",
            "--queue-url",
            queue_url,
            "--concurrency",
            "4",
            "--wait-seconds",
            "1",
            "--drain-seconds",
            "10",
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        # Not over an exception from the body: that one says more.
        if process.returncode != 0 and sys.exc_info()[0] is None:
            raise AssertionError(f"worker exited {process.returncode}:\n{output[-3000:]}")


@contextmanager
def gunicorn_process(
    app: str, env: Mapping[str, str], *, with_poller: bool = False
) -> Iterator[str]:
    """The container's gunicorn command on a free 127.0.0.1 port (one worker: 2 shared
    cores); yields its URL once /health answers. ``with_poller`` adds the web app's
    poller hooks (webapp-poller). SIGTERM on exit, as ECS stops a task."""
    from local.emulator import free_port

    port = free_port()
    hooks = ["--config", "python:runtime.gunicorn_hooks"] if with_poller else []
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        *hooks,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--graceful-timeout",
        "30",
        app,
    ]
    process = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthy(url) or process.poll() is not None, 30, f"{app} to start")
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited {process.returncode}:\n{process.stdout}")
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def _healthy(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
            return int(response.status) == 200
    except OSError:
        return False
