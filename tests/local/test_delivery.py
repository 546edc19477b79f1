"""The emulator renders deliveries as Scheduler and EventBridge document them."""

from __future__ import annotations

import json

from local.delivery import eventbridge_delivery, scheduler_delivery


def test_input_transformer_fills_a_json_template_as_the_api_reference_shows() -> None:
    # The "InputTransformer" API reference (and "Amazon EventBridge input
    # transformation"): InputPathsMap {"instance": "$.detail.instance", "status":
    # "$.detail.status"}; in a JSON template an unquoted placeholder takes the value as
    # JSON, so a string arrives quoted.
    event = {"id": "7bf73129", "detail": {"instance": "i-0123456789", "status": "RUNNING"}}
    transformer = {
        "InputPathsMap": {"instance": "$.detail.instance", "status": "$.detail.status"},
        "InputTemplate": '{"myInstance": <instance>, "myStatus": <status>}',
    }
    assert json.loads(eventbridge_delivery(transformer, event)) == {
        "myInstance": "i-0123456789",
        "myStatus": "RUNNING",
    }


def test_the_whole_event_goes_where_the_template_says_aws_events_event_json() -> None:
    # "Predefined variables": <aws.events.event.json> is the original event as JSON.
    event = {"id": "e1", "time": "2026-11-27T02:00:00Z", "detail": {"a": [1, 2]}}
    transformer = {
        "InputPathsMap": {"id": "$.id"},
        "InputTemplate": '{"id": <id>, "payload": <aws.events.event.json>}',
    }
    assert json.loads(eventbridge_delivery(transformer, event)) == {"id": "e1", "payload": event}


def test_scheduler_substitutes_its_context_attributes() -> None:
    # "Adding context attributes in EventBridge Scheduler".
    body = scheduler_delivery(
        '{"id": "<aws.scheduler.execution-id>", "at": "<aws.scheduler.scheduled-time>"}',
        execution_id="run-1",
        scheduled_time="2026-11-27T02:00:00Z",
    )
    assert json.loads(body) == {"id": "run-1", "at": "2026-11-27T02:00:00Z"}
