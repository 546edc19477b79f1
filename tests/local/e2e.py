"""The end-to-end scenario every queue topology must pass, whatever consumes the queue.

``settle()`` is the topology's consumer: it returns once every queue is empty.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import boto3

from runtime.producer import Producer
from tests.local import helpers

RECIPIENT = "ada@example.com"
# Without malware protection the web app enqueues property-bulk-upload for a plain
# upload; with it, GuardDuty's tag and event reach virus-scan-result, which enqueues the
# load. Together the two runs cover every task type.
COVERED_TASKS = {
    "virus-scan-result",
    "property-bulk-upload",
    "send-bulk-email",
    "email-feedback",
    "generate-report",
}


def run_every_task_type(
    producer_env: Mapping[str, str],
    *,
    table: str,
    bucket: str,
    dlq_urls: list[str],
    settle: Callable[[], None],
    malware_protection: bool = False,
) -> None:
    """Upload -> bulk upload -> report, one email campaign and one poison message.

    Without ``malware_protection`` (the default deploy) the CSV is put as the web app
    puts it and the load enqueued through the producer; nothing marks it clean. With
    it, GuardDuty's tag and scan-result event start the load through virus-scan-result.
    """
    producer = Producer(environ=producer_env)
    helpers.create_email_template()
    if malware_protection:
        version = helpers.upload_clean_candidate(bucket)
        helpers.deliver_event(
            producer_env,
            "virus-scan-result",
            helpers.scan_result_event(bucket, helpers.PROPERTY_KEY, version),
        )
    else:
        version = helpers.put_upload(bucket)
        producer.enqueue(
            "property-bulk-upload",
            {"bucket": bucket, "key": helpers.PROPERTY_KEY, "version_id": version},
        )
    producer.enqueue(
        "send-bulk-email",
        {"template": helpers.EMAIL_TEMPLATE, "recipients": [RECIPIENT]},
        idempotency_key="local-e2e",
    )
    poison_id = producer.enqueue("generate-report", {"period": "not-a-period"})
    settle()

    # The load ran: queued by the clean scan's handler, or by the web app unscanned.
    upload = helpers.table_item(table, f"upload#{helpers.PROPERTY_KEY}", f"version#{version}")
    assert upload is not None
    assert upload["status"] == "processed", upload
    scanned = "NO_THREATS_FOUND" if malware_protection else "NOT_SCANNED"
    assert upload["scan_status"] == scanned, upload
    assert (upload["rows_loaded"], upload["rows_rejected"]) == (2, 1)
    assert helpers.table_item(table, "property#100", "record") is not None
    assert helpers.table_item(table, "property#101", "record") is not None
    assert f"results/{helpers.PROPERTY_KEY}.json" in helpers.object_keys(bucket, "results/")
    ledger = helpers.query_items(table, "email#local-e2e")
    assert [(i["sk"], i["status"]) for i in ledger if i["sk"].startswith("recipient#")] == [
        (f"recipient#{RECIPIENT}", "sent")
    ]
    dead = [json.loads(m["Body"])["id"] for url in dlq_urls for m in helpers.receive_all(url)]
    assert dead == [poison_id]

    # SES's bounce for that recipient (its EventBridge event), and the report.
    sent = helpers.table_item(table, "email#local-e2e", f"recipient#{RECIPIENT}")
    assert sent is not None and sent["status"] == "sent", sent
    helpers.deliver_event(
        producer_env,
        "email-feedback",
        helpers.bounce_event(RECIPIENT, campaign="local-e2e", message_id=sent["message_id"]),
    )
    period = helpers.report_payload()
    producer.enqueue("generate-report", period)
    settle()
    prefix = f"reports/{period['from']}_{period['to']}/"
    assert sorted(helpers.object_keys(bucket, prefix)) == [
        f"{prefix}properties.csv",
        f"{prefix}summary.json",
    ]
    summary = _json_object(bucket, f"{prefix}summary.json")
    assert summary["properties"]["total"] == 2, summary
    recipient = helpers.table_item(table, "email#local-e2e", f"recipient#{RECIPIENT}")
    assert recipient is not None and recipient["status"] == "bounced", recipient
    assert helpers.table_item(table, f"suppressed#{RECIPIENT}", "email") is not None


def _json_object(bucket: str, key: str) -> Any:
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return json.loads(body)
