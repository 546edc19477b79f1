"""The event fixtures: each names its source, and AWS's documented examples parse.

The examples are AWS's own (tests/events/SOURCES.md says how close to the page each is):

* SES: "Examples of event data that Amazon SES publishes to Amazon SNS",
  https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-examples.html
  (the ``detail``), with the detail-types of "Monitoring SES events using Amazon
  EventBridge", https://docs.aws.amazon.com/ses/latest/dg/monitoring-eventbridge.html
* GuardDuty: "Monitoring S3 object scans with Amazon EventBridge",
  https://docs.aws.amazon.com/guardduty/latest/ug/monitor-with-eventbridge-s3-malware-protection.html
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from runtime.catalogue import GUARDDUTY_SCAN_RESULT_PATTERN, SES_FEEDBACK_PATTERN
from runtime.tasks.email.feedback_event import FeedbackKind, parse_feedback
from runtime.tasks.scans.events import ScanStatus, parse_scan_event
from runtime.tasks.uploads.model import UploadRef
from tests.runtime.helpers import EVENTS, load_event

SES_FIXTURES = [
    "aws_ses_bounce_example.json",
    "aws_ses_complaint_example.json",
    "ses_bounce.json",
    "ses_complaint.json",
]
GUARDDUTY_FIXTURES = [
    "aws_guardduty_scan_result_example.json",
    "guardduty_malware_scan_result.json",
    "guardduty_threats_found.json",
    "guardduty_unsupported.json",
    "guardduty_access_denied.json",
    "guardduty_failed.json",
]


def _matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """EventBridge's match for a pattern of top-level value lists (all ours use)."""
    return all(event.get(field) in values for field, values in pattern.items())


def test_every_fixture_names_its_source_in_sources_md() -> None:
    sources = (EVENTS / "SOURCES.md").read_text()
    fixtures = sorted(path.name for path in EVENTS.glob("*.json"))

    missing = [name for name in fixtures if f"| `{name}` |" not in sources]

    assert fixtures and missing == []


def test_the_documented_ses_bounce_parses() -> None:
    feedback = parse_feedback(load_event("aws_ses_bounce_example.json"))

    assert feedback.kind is FeedbackKind.HARD_BOUNCE
    assert feedback.message_id == "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
    assert feedback.campaign is None  # the example carries only SES's own ses:* tags
    [recipient] = feedback.recipients
    assert recipient.address == "recipient@example.com"
    assert recipient.reason == "Permanent/General: smtp; 550 5.1.1 user unknown"


def test_the_documented_ses_complaint_parses() -> None:
    feedback = parse_feedback(load_event("aws_ses_complaint_example.json"))

    assert feedback.kind is FeedbackKind.COMPLAINT
    assert feedback.message_id == "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
    assert [(r.address, r.reason) for r in feedback.recipients] == [
        ("recipient@example.com", "Complaint/abuse")
    ]


def test_the_documented_guardduty_scan_result_parses() -> None:
    result = parse_scan_event(load_event("aws_guardduty_scan_result_example.json"))

    assert result.status is ScanStatus.NO_THREATS_FOUND
    assert result.threats == ()
    assert result.upload == UploadRef(
        "amzn-s3-demo-bucket", "APKAEIBAERJR2EXAMPLE", "d41d8cd98f00b204e9800998ecf8427e"
    )
    assert result.event_id == "72c7d362-737a-6dce-fc78-9e27a0171419"


@pytest.mark.parametrize("name", SES_FIXTURES)
def test_every_ses_fixture_matches_the_catalogue_rule_and_parses(name: str) -> None:
    event = load_event(name)

    assert _matches(SES_FEEDBACK_PATTERN, event), event["detail-type"]
    parse_feedback(event)


@pytest.mark.parametrize("name", GUARDDUTY_FIXTURES)
def test_every_guardduty_fixture_matches_the_catalogue_rule_and_parses(name: str) -> None:
    event = load_event(name)

    assert _matches(GUARDDUTY_SCAN_RESULT_PATTERN, event)
    parse_scan_event(event)
