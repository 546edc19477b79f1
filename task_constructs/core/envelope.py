"""The message envelope as the infrastructure writes it (schedules and event rules).

The runtime's ``runtime.envelope`` decodes exactly these shapes; the pair is tested.
"""

import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import aws_events as events
from aws_cdk import aws_scheduler as scheduler
from aws_cdk.interfaces import aws_events as events_refs

from runtime.contract import ENVELOPE_VERSION


def schedule_envelope(task_name: str, payload: Mapping[str, Any]) -> scheduler.ScheduleTargetInput:
    """Scheduler input: the execution id is unique per run and stable across retries."""
    return scheduler.ScheduleTargetInput.from_object(
        {
            "task": task_name,
            "id": scheduler.ContextAttribute.execution_id,
            "version": ENVELOPE_VERSION,
            "created_at": scheduler.ContextAttribute.scheduled_time,
            "payload": dict(payload),
        }
    )


class WholeEventEnvelope(events.RuleTargetInput):
    """Rule input that wraps the entire matched event as the envelope's payload.

    ``RuleTargetInput.from_object`` cannot emit ``<aws.events.event.json>`` unquoted,
    so this binds the input transformer directly.
    """

    def __init__(self, task_name: str) -> None:
        super().__init__()
        self._task_name = task_name

    def bind(self, rule: events_refs.IRuleRef) -> events.RuleTargetInputProperties:
        head = json.dumps({"task": self._task_name, "version": ENVELOPE_VERSION})[:-1]
        return events.RuleTargetInputProperties(
            input_paths_map={"id": "$.id", "time": "$.time"},
            input_template=(
                f'{head}, "id": <id>, "created_at": <time>, "payload": <aws.events.event.json>}}'
            ),
        )
