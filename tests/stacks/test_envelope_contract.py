"""The pair: what the synthesized wiring delivers, the runtime decodes.

Scheduler substitutes its context attributes into the target's Input; EventBridge
fills the input transformer's template from the matched event. Both are rendered
here from the real templates and handed to ``runtime.envelope.decode``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from local.delivery import eventbridge_delivery, scheduler_delivery
from runtime.envelope import decode
from tests.conftest import SynthesizedApp

EVENTS = Path(__file__).resolve().parent.parent / "events"
QUEUE_STACKS = ("AsyncTasks-Lambdas", "AsyncTasks-WorkerService", "AsyncTasks-WebappPoller")


def _resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def _scheduler_delivery(input_template: str) -> str:
    return scheduler_delivery(
        input_template,
        execution_id="c1a2b3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        scheduled_time="2026-11-27T02:00:00Z",
    )


def _eventbridge_delivery(transformer: dict[str, Any], event: dict[str, Any]) -> str:
    rendered = eventbridge_delivery(transformer, event)
    assert not re.search(r"<[a-z.]+>", rendered), rendered
    return rendered


@pytest.mark.parametrize("stack_id", (*QUEUE_STACKS, "AsyncTasks-PrivateEndpoints"))
def test_every_schedule_delivers_an_envelope_the_runtime_decodes(
    synthesized: SynthesizedApp, stack_id: str
) -> None:
    # The waker's twins (tests/stacks/test_wake_on_enqueue.py) deliver a nudge, not work.
    schedules = [
        s
        for s in _resources(synthesized.templates[stack_id], "AWS::Scheduler::Schedule")
        if "nudged_by" not in json.loads(s["Properties"]["Target"]["Input"])
    ]
    assert schedules
    for schedule in schedules:
        envelope = decode(_scheduler_delivery(schedule["Properties"]["Target"]["Input"]))
        assert envelope["id"] == "c1a2b3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
        assert envelope["created_at"] == "2026-11-27T02:00:00Z"
        assert envelope["task"] in {"generate-report", "send-bulk-email"}


@pytest.mark.parametrize("stack_id", (*QUEUE_STACKS, "AsyncTasks-PrivateEndpoints"))
def test_guardduty_rule_delivers_an_envelope_the_runtime_decodes(
    synthesized: SynthesizedApp, stack_id: str
) -> None:
    # GIVEN a real GuardDuty Malware Protection scan-result event
    event = json.loads((EVENTS / "guardduty_malware_scan_result.json").read_text())
    rules = _resources(synthesized.templates[stack_id], "AWS::Events::Rule")
    (rule,) = [
        r
        for r in rules
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.guardduty"]
    ]
    # (worker-service's second target nudges the waker: tests/stacks/test_wake_on_enqueue.py)
    (target,) = [t for t in rule["Properties"]["Targets"] if "InputTransformer" in t]
    # WHEN EventBridge renders the rule's input transformer
    envelope = decode(_eventbridge_delivery(target["InputTransformer"], event))
    # THEN the runtime gets the task, a stable id and the whole event as payload
    assert envelope["task"] == "virus-scan-result"
    assert envelope["id"] == event["id"]
    assert envelope["payload"] == event
