"""TaskTriggers: every schedule and event rule of a catalogue, wired to its targets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from runtime.catalogue import TaskCatalogue
from task_constructs.core.delivery_dlq import delivery_dead_letter_queue
from task_constructs.core.validation import exactly_one, fail_props
from task_constructs.task_event_rule import TaskEventRule, TaskEventRuleProps
from task_constructs.task_schedule import TaskSchedule, TaskScheduleProps


@dataclass(frozen=True, kw_only=True)
class TaskTriggersProps:
    """Properties of :class:`TaskTriggers`. Set exactly one of ``queues`` and ``function``."""

    catalogue: TaskCatalogue
    """The task types whose schedules and event triggers to create."""

    queues: Mapping[str, sqs.IQueue] | None = None
    """Task name to the queue that receives its envelopes. Every scheduled or
    event-triggered task needs an entry. One queue may serve several tasks.
    Default: none; set this or ``function``."""

    function: lambda_.IFunction | None = None
    """One function that receives every envelope (the private-endpoints invoker).
    Default: none; set this or ``queues``."""

    wake: lambda_.IFunction | None = None
    """A :class:`ServiceWaker`'s function to nudge as each trigger delivers: every event
    rule gets it as a second target, and every schedule a twin schedule at the same
    times (a Scheduler schedule has one target). Default: none."""

    narrowed_by: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Task name to extra pattern fields for its event rules, so they match only this
    deployment's events (see ``TaskEventRuleProps.narrowed_by``). Default: none."""

    def __post_init__(self) -> None:
        violations = exactly_one(queues=self.queues, function=self.function)
        if self.queues is not None:
            triggered = [
                task.name
                for task in self.catalogue.values()
                if task.schedules or task.event_triggers
            ]
            missing = [name for name in triggered if name not in self.queues]
            if missing:
                violations.append(f"'queues' has no queue for triggered task(s) {missing}")
        fail_props("TaskTriggersProps", violations)


class TaskTriggers(Construct):
    """Schedules and event rules for a whole catalogue, sharing one delivery DLQ.

    Children are namespaced by task name: ``<task>/Schedule1``, ``<task>/Event1``, and
    with ``wake`` ``<task>/Schedule1Wake``. Resources created: one
    ``DeliveryDeadLetterQueue`` when any trigger exists, and a :class:`TaskSchedule` or
    :class:`TaskEventRule` per trigger (and per schedule its wake twin).
    """

    def __init__(self, scope: Construct, construct_id: str, props: TaskTriggersProps) -> None:
        super().__init__(scope, construct_id)
        self.schedules: list[TaskSchedule] = []
        self.event_rules: list[TaskEventRule] = []
        triggered = [
            task for task in props.catalogue.values() if task.schedules or task.event_triggers
        ]
        self.dead_letter_queue: sqs.IQueue | None = (
            delivery_dead_letter_queue(
                self, "DeliveryDeadLetterQueue", "EventBridge Scheduler or EventBridge"
            )
            if triggered
            else None
        )
        for task in triggered:
            namespace = Construct(self, task.name)
            queue = props.queues[task.name] if props.queues is not None else None
            for number, schedule in enumerate(task.schedules, start=1):
                self.schedules.append(
                    TaskSchedule(
                        namespace,
                        f"Schedule{number}",
                        TaskScheduleProps(
                            task=task,
                            trigger=schedule,
                            queue=queue,
                            function=props.function,
                            dead_letter_queue=self.dead_letter_queue,
                        ),
                    )
                )
                if props.wake is not None:
                    self.schedules.append(
                        TaskSchedule(
                            namespace,
                            f"Schedule{number}Wake",
                            TaskScheduleProps(
                                task=task,
                                trigger=schedule,
                                function=props.wake,
                                nudge_only=True,
                                dead_letter_queue=self.dead_letter_queue,
                            ),
                        )
                    )
            for number, event in enumerate(task.event_triggers, start=1):
                self.event_rules.append(
                    TaskEventRule(
                        namespace,
                        f"Event{number}",
                        TaskEventRuleProps(
                            task=task,
                            trigger=event,
                            queue=queue,
                            function=props.function,
                            dead_letter_queue=self.dead_letter_queue,
                            narrowed_by=props.narrowed_by.get(task.name),
                            wake=props.wake,
                        ),
                    )
                )
