"""TaskEventRule: an EventBridge rule that turns matching events into task envelopes."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from runtime.catalogue import EventTrigger, TaskType
from task_constructs import _defaults
from task_constructs._delivery_dlq import delivery_dead_letter_queue
from task_constructs._envelope import WholeEventEnvelope
from task_constructs._validation import exactly_one, fail_props

_RETRY_RANGE = (0, 185)
# Event pattern keys as EventBridge spells them, to the CDK's EventPattern fields.
_PATTERN_FIELDS = {
    "source": "source",
    "detail-type": "detail_type",
    "detail": "detail",
    "resources": "resources",
    "account": "account",
    "region": "region",
    "id": "id",
    "time": "time",
    "version": "version",
}


@dataclass(frozen=True, kw_only=True)
class TaskEventRuleProps:
    """Properties of a :class:`TaskEventRule`. Set exactly one of ``queue`` and ``function``."""

    task: TaskType
    """The task type the events trigger; its name goes in the envelope."""

    trigger: EventTrigger
    """The catalogue's event trigger; its pattern becomes the rule's pattern."""

    queue: sqs.IQueue | None = None
    """Send the envelope to this queue. Default: none; set this or ``function``."""

    function: lambda_.IFunction | None = None
    """Invoke this function with the envelope. Default: none; set this or ``queue``."""

    event_bus: events.IEventBus | None = None
    """The bus to match events on. Default: the account's default bus, where AWS
    services such as GuardDuty publish."""

    dead_letter_queue: sqs.IQueue | None = None
    """Where EventBridge puts envelopes it failed to deliver after its retries.
    Default: a new encrypted, TLS-only DLQ kept 14 days."""

    retry_attempts: int | None = None
    """Delivery retries before the envelope goes to the DLQ (0..185). Default: 3."""

    def __post_init__(self) -> None:
        violations = exactly_one(queue=self.queue, function=self.function)
        low, high = _RETRY_RANGE
        if self.retry_attempts is not None and not low <= self.retry_attempts <= high:
            violations.append(f"retry_attempts is {self.retry_attempts}; use {low}..{high}")
        unknown = sorted(set(self.trigger.pattern) - set(_PATTERN_FIELDS))
        if unknown:
            violations.append(
                f"event pattern keys {unknown} are not EventBridge pattern fields; use "
                f"{sorted(_PATTERN_FIELDS)}"
            )
        if self.trigger not in self.task.event_triggers:
            violations.append(
                f"the trigger is not one of task '{self.task.name}''s event triggers in "
                "the catalogue"
            )
        fail_props("TaskEventRuleProps", violations)


class TaskEventRule(Construct):
    """One EventBridge rule for one catalogue event trigger of a task.

    The whole matched event becomes the envelope's ``payload``; ``id`` is the event
    id and ``created_at`` the event time, so a redelivered event is recognised by
    the runtime's idempotency ledger.

    Resources created: ``Rule``, a queue policy or invoke permission for the target,
    and a ``DeliveryDeadLetterQueue`` unless one is given.
    """

    def __init__(self, scope: Construct, construct_id: str, props: TaskEventRuleProps) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue: sqs.IQueue = (
            props.dead_letter_queue
            if props.dead_letter_queue is not None
            else delivery_dead_letter_queue(self, "DeliveryDeadLetterQueue")
        )
        self.retry_attempts: int = (
            props.retry_attempts
            if props.retry_attempts is not None
            else _defaults.DELIVERY_RETRY_ATTEMPTS
        )
        max_event_age: Duration = _defaults.DELIVERY_MAX_EVENT_AGE
        envelope = WholeEventEnvelope(props.task.name)
        target: events.IRuleTarget
        if props.queue is not None:
            target = events_targets.SqsQueue(
                props.queue,
                message=envelope,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=self.retry_attempts,
                max_event_age=max_event_age,
            )
        else:
            assert props.function is not None  # guaranteed by the props check
            target = events_targets.LambdaFunction(
                props.function,
                event=envelope,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=self.retry_attempts,
                max_event_age=max_event_age,
            )
        self.rule: events.IRule = events.Rule(
            self,
            "Rule",
            description=f"Trigger task '{props.task.name}': {props.trigger.description}",
            event_bus=props.event_bus,
            event_pattern=events.EventPattern(
                **{_PATTERN_FIELDS[key]: value for key, value in props.trigger.pattern.items()}
            ),
            targets=[target],
        )
