"""Schedules and EventBridge rules: what they run, how often, and for which task.

One reading of ``AWS::Scheduler::Schedule`` and ``AWS::Events::Rule`` resources, shared
by the Lambda usage (invoker and metric runs), the Scheduler usage and the latency model
(which arrivals pass through an invoker Lambda).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from comparison.inputs.templates import Resource, StackTemplate, referenced_ids
from comparison.inputs.workload import Workload
from comparison.model.schedule_expr import runs_per_month

_TASK_IN_INPUT = re.compile(r'"task"\s*:\s*"([A-Za-z0-9_-]+)"')
_TRIGGER_TYPES = ("AWS::Scheduler::Schedule", "AWS::Events::Rule")


@dataclass(frozen=True, kw_only=True)
class Trigger:
    source: str
    """Logical id of the schedule or rule."""
    target_ids: frozenset[str]
    """Logical ids the target's Arn refers to."""
    task: str | None
    """The task named in the target's Input or InputTemplate (the envelope's ``task``)."""
    runs_per_month: float | None
    """For a schedule, its runs a month; None for an event pattern (driven by the volume)."""

    @property
    def is_schedule(self) -> bool:
        return self.runs_per_month is not None


def _targets(resource: Resource) -> list[Mapping[str, Any]]:
    props = resource.properties
    if isinstance(props.get("Target"), Mapping):
        return [props["Target"]]
    targets = props.get("Targets")
    return [t for t in targets if isinstance(t, Mapping)] if isinstance(targets, list) else []


def _task_named(target: Mapping[str, Any]) -> str | None:
    transformer = target.get("InputTransformer")
    text = target.get("Input") or (
        transformer.get("InputTemplate") if isinstance(transformer, Mapping) else None
    )
    if not isinstance(text, str):
        text = json.dumps(text) if text is not None else ""
    found = _TASK_IN_INPUT.search(text)
    return found.group(1) if found else None


def read_triggers(template: StackTemplate) -> tuple[Trigger, ...]:
    """Every enabled schedule and rule target, with its task and its monthly runs."""
    found = []
    for resource in template.resources.values():
        if resource.type not in _TRIGGER_TYPES or resource.properties.get("State") == "DISABLED":
            continue
        expression = resource.properties.get("ScheduleExpression")
        runs = runs_per_month(expression) if isinstance(expression, str) else None
        if runs is None and "EventPattern" not in resource.properties:
            continue
        for target in _targets(resource):
            found.append(
                Trigger(
                    source=resource.logical_id,
                    target_ids=frozenset(referenced_ids(target.get("Arn"))),
                    task=_task_named(target),
                    runs_per_month=runs,
                )
            )
    return tuple(found)


def scheduled_runs(triggers: Sequence[Trigger], task: str) -> float:
    """Runs a month of the schedules that name ``task``, whatever they target."""
    return sum(t.runs_per_month or 0.0 for t in triggers if t.is_schedule and t.task == task)


def invocations(triggers: Sequence[Trigger], function_id: str, workload: Workload) -> float | None:
    """Runs a month of a function that schedules and rules target; None if none do.

    A schedule runs it per run of its expression. An event rule runs it once per event:
    the task's monthly volume, less what its schedules already produce."""
    total: float | None = None
    for trigger in triggers:
        if function_id not in trigger.target_ids:
            continue
        if trigger.is_schedule:
            runs = trigger.runs_per_month or 0.0
        elif trigger.task is not None and trigger.task in {t.name for t in workload.tasks}:
            volume = workload.task(trigger.task).volume_per_month
            runs = max(0.0, volume - scheduled_runs(triggers, trigger.task))
        else:
            runs = 0.0  # an event rule for no known task: its volume is unknown
        total = (total or 0.0) + runs
    return total


def relayed_share(
    triggers: Sequence[Trigger], function_id: str, workload: Workload
) -> dict[str, float]:
    """Per task, the share of its runs that pass through ``function_id`` (an invoker)."""
    shares: dict[str, float] = {}
    for trigger in triggers:
        if function_id not in trigger.target_ids or trigger.task is None:
            continue
        if trigger.task not in {t.name for t in workload.tasks}:
            continue
        volume = workload.task(trigger.task).volume_per_month
        if not volume:
            continue
        if trigger.is_schedule:
            share = (trigger.runs_per_month or 0.0) / volume
        else:
            share = max(0.0, 1 - scheduled_runs(triggers, trigger.task) / volume)
        shares[trigger.task] = min(1.0, shares.get(trigger.task, 0.0) + share)
    return shares
