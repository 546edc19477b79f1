"""The task catalogue: initial entries and validation of bad entries."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from runtime.catalogue import (
    CATALOGUE,
    CatalogueError,
    EventTrigger,
    OnDemand,
    ScheduleTrigger,
    TaskCatalogue,
    TaskType,
)


def _task(**overrides: Any) -> TaskType:
    fields: dict[str, Any] = {
        "name": "sample",
        "description": "d",
        "triggers": (OnDemand(),),
        "expected_duration_seconds": 10,
        "max_duration_seconds": 60,
        "memory_mib": 256,
        "handler": "tests.tasks:handle",
    }
    fields.update(overrides)
    return TaskType(**fields)


def test_entries_are_the_adrs_four_tasks_and_email_feedback() -> None:
    assert list(CATALOGUE) == [
        "virus-scan-result",
        "property-bulk-upload",
        "generate-report",
        "send-bulk-email",
        "email-feedback",
    ]


def test_email_feedback_is_triggered_by_ses_bounces_and_complaints() -> None:
    (trigger,) = CATALOGUE["email-feedback"].event_triggers
    assert dict(trigger.pattern) == {
        "source": ["aws.ses"],
        # "Monitoring SES events using Amazon EventBridge",
        # https://docs.aws.amazon.com/ses/latest/dg/monitoring-eventbridge.html
        "detail-type": ["Email Bounced", "Email Complaint Received"],
    }


def test_virus_scan_result_is_triggered_by_guardduty_scan_results() -> None:
    (trigger,) = CATALOGUE["virus-scan-result"].triggers
    assert isinstance(trigger, EventTrigger)
    assert dict(trigger.pattern) == {
        "source": ["aws.guardduty"],
        "detail-type": ["GuardDuty Malware Protection Object Scan Result"],
    }


def test_property_bulk_upload_is_on_demand_only() -> None:
    assert CATALOGUE["property-bulk-upload"].triggers == (OnDemand(),)


def test_generate_report_runs_nightly_in_london() -> None:
    (schedule,) = CATALOGUE["generate-report"].schedules
    assert schedule.expression == "cron(0 2 * * ? *)"
    assert schedule.time_zone == "Europe/London"


def test_send_bulk_email_is_on_demand_and_scheduled() -> None:
    task = CATALOGUE["send-bulk-email"]
    assert task.on_demand
    assert len(task.schedules) == 1


def test_catalogue_imports_without_aws_cdk() -> None:
    code = (
        "import sys, runtime.catalogue; "
        "assert not any(m.startswith('aws_cdk') for m in sys.modules), 'aws_cdk imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_refuses_duplicate_names() -> None:
    with pytest.raises(CatalogueError, match=r"task 'sample': duplicate name"):
        TaskCatalogue([_task(), _task()])


def test_refuses_max_duration_below_expected() -> None:
    with pytest.raises(
        CatalogueError,
        match=r"task 'sample': max_duration_seconds \(30\) is below expected_duration_seconds "
        r"\(45\)",
    ):
        TaskCatalogue([_task(expected_duration_seconds=45, max_duration_seconds=30)])


@pytest.mark.parametrize("memory", [64, 10_241, 0])
def test_refuses_bad_memory_sizes(memory: int) -> None:
    with pytest.raises(
        CatalogueError, match=rf"memory_mib is {memory}; it must be between 128 and 10240"
    ):
        TaskCatalogue([_task(memory_mib=memory)])


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("every night", "is not a Scheduler expression"),
        ("cron(0 2 * * *)", "a cron expression has 6 fields"),
        ("cron(0 2 * * * *)", "put '?' in exactly one of day-of-month and day-of-week"),
        ("cron(0 2 ? * ? *)", "put '?' in exactly one of day-of-month and day-of-week"),
        ("rate(1 hours)", "use the singular unit for 1"),
        ("rate(5 minute)", "use the singular unit for 1"),
        ("rate(0 minutes)", "a rate must be at least 1"),
        ("rate(5 weeks)", "is not a Scheduler expression"),
        (" rate(5 minutes)", "surrounding whitespace"),
    ],
)
def test_refuses_bad_schedule_expressions(expression: str, problem: str) -> None:
    task = _task(triggers=(ScheduleTrigger(expression=expression),))
    with pytest.raises(CatalogueError, match=f"task 'sample': schedule .*{re.escape(problem)}"):
        TaskCatalogue([task])


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 2 * * ? *)",
        "cron(0/15 8-17 ? * MON-FRI *)",
        "rate(1 day)",
        "rate(10 minutes)",
        "at(2026-12-01T09:00:00)",
    ],
)
def test_accepts_valid_schedule_expressions(expression: str) -> None:
    TaskCatalogue([_task(triggers=(ScheduleTrigger(expression=expression),))])


def test_refuses_an_unknown_time_zone() -> None:
    task = _task(triggers=(ScheduleTrigger(expression="rate(1 day)", time_zone="Europe/Londn"),))
    with pytest.raises(CatalogueError, match=r"unknown time zone 'Europe/Londn'"):
        TaskCatalogue([task])


def test_lists_every_violation_in_one_error() -> None:
    with pytest.raises(CatalogueError) as raised:
        TaskCatalogue(
            [
                _task(name="Bad_Name", memory_mib=1, max_receive_count=0, triggers=()),
                _task(name="other", max_concurrency=1, handler="no-colon"),
            ]
        )
    assert len(raised.value.violations) == 6
    message = str(raised.value)
    for expected in (
        "name must be kebab-case",
        "has no triggers",
        "memory_mib is 1",
        "max_receive_count is 0",
        "max_concurrency is 1",
        "handler 'no-colon'",
    ):
        assert expected in message


def test_refuses_an_empty_catalogue() -> None:
    with pytest.raises(CatalogueError, match=r"the catalogue is empty"):
        TaskCatalogue([])


def test_refuses_enqueueing_an_unknown_task() -> None:
    with pytest.raises(CatalogueError, match=r"task 'sample': enqueues unknown task type\(s\)"):
        TaskCatalogue([_task(enqueues=("nowhere",))])


def test_catalogue_declares_who_enqueues_and_who_sends_email() -> None:
    assert CATALOGUE["virus-scan-result"].enqueues == ("property-bulk-upload",)
    assert CATALOGUE["send-bulk-email"].sends_email
    assert not any(t.sends_email for n, t in CATALOGUE.items() if n != "send-bulk-email")
