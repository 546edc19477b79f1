"""Narrow the catalogue's event rules to this deployment's own events.

The catalogue's patterns match a kind of event (every GuardDuty object scan result,
every SES bounce). On a real account other buckets and other mail produce those too,
so each rule also matches the resource it is for:
- scan results: ``detail.s3ObjectDetails.bucketName`` is the uploads bucket (the field
  of the "GuardDuty Malware Protection Object Scan Result" event, "Monitoring S3 object
  scans with Amazon EventBridge");
- SES feedback: ``detail.mail.tags.ses:configuration-set`` is our configuration set
  (SES adds that tag to every event published through a configuration set, "Examples
  of event data that Amazon SES publishes").
"""

from __future__ import annotations

from typing import Any

from task_constructs.email_feedback import EmailFeedback
from task_constructs.task_data import TaskData

SCAN_RESULT_TASK = "virus-scan-result"
EMAIL_FEEDBACK_TASK = "email-feedback"


def event_scope(data: TaskData, feedback: EmailFeedback | None) -> dict[str, dict[str, Any]]:
    """Task name to the pattern fields that tie its rule to this deployment."""
    scope: dict[str, dict[str, Any]] = {
        SCAN_RESULT_TASK: {
            "detail": {"s3ObjectDetails": {"bucketName": [data.uploads_bucket.bucket_name]}}
        }
    }
    if feedback is not None:
        scope[EMAIL_FEEDBACK_TASK] = {
            "detail": {"mail": {"tags": {"ses:configuration-set": [feedback.name]}}}
        }
    return scope
