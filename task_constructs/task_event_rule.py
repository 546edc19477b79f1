"""TaskEventRule: an EventBridge rule that turns matching events into task envelopes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from runtime.catalogue import EventTrigger
from task_constructs.core import defaults
from task_constructs.core.acknowledge import acknowledge_resource
from task_constructs.core.delivery import DeliveryProps, resolve_delivery
from task_constructs.core.envelope import WholeEventEnvelope
from task_constructs.core.validation import fail_props
from task_constructs.service_waker import LOST_NUDGE_REASON, NUDGE_MAX_AGE, nudge_rule_input

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
class TaskEventRuleProps(DeliveryProps):
    """Properties of a :class:`TaskEventRule`. Set exactly one of ``queue`` and ``function``."""

    trigger: EventTrigger
    """The catalogue's event trigger; its pattern becomes the rule's pattern."""

    event_bus: events.IEventBus | None = None
    """The bus to match events on. Default: the account's default bus, where AWS
    services such as GuardDuty publish."""

    wake: lambda_.IFunction | None = None
    """A :class:`ServiceWaker`'s function, nudged as a second target for each matched
    event (no retry, no DLQ: the wake-up alarm covers a lost nudge). Default: none."""

    narrowed_by: Mapping[str, Any] | None = None
    """More pattern fields, merged into the catalogue's pattern, to match only this
    deployment's events, e.g. ``{"detail": {"s3ObjectDetails": {"bucketName":
    [bucket.bucket_name]}}}``. Where both give a field, both must match, so narrowing
    can never widen the rule. Default: the catalogue's pattern as it is."""

    @property
    def pattern(self) -> Mapping[str, Any]:
        return _merged(self.trigger.pattern, self.narrowed_by or {})

    def __post_init__(self) -> None:
        violations = self.delivery_violations()
        unknown = sorted(set(self.pattern) - set(_PATTERN_FIELDS))
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
        delivery = resolve_delivery(self, props)
        self.dead_letter_queue: sqs.IQueue = delivery.dead_letter_queue
        self.retry_attempts: int = delivery.retry_attempts
        max_event_age: Duration = defaults.DELIVERY_MAX_EVENT_AGE
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
        elif props.function is not None:
            target = events_targets.LambdaFunction(
                props.function,
                event=envelope,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=self.retry_attempts,
                max_event_age=max_event_age,
            )
        else:  # TaskEventRuleProps refuses this; kept so the target is always bound
            raise ValueError(f"TaskEventRule '{props.task.name}': set 'queue' or 'function'")
        rule = events.Rule(
            self,
            "Rule",
            description=f"Trigger task '{props.task.name}': {props.trigger.description}",
            event_bus=props.event_bus,
            event_pattern=events.EventPattern(
                **{_PATTERN_FIELDS[key]: value for key, value in props.pattern.items()}
            ),
            targets=[target],
        )
        if props.wake is not None:
            rule.add_target(
                events_targets.LambdaFunction(
                    props.wake,
                    event=nudge_rule_input(props.task.name),
                    retry_attempts=0,
                    max_event_age=NUDGE_MAX_AGE,
                )
            )
            # The rule's task target keeps its DLQ (tests/stacks check every one).
            acknowledge_resource(
                rule, "Serverless-EventBusDLQ", f"The waker target has none. {LOST_NUDGE_REASON}"
            )
        self.rule: events.IRule = rule


def _merged(base: Mapping[str, Any], narrowing: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``narrowing``'s fields added; nested objects merge, and a field in
    both keeps only the values both allow."""
    merged: dict[str, Any] = dict(base)
    for key, value in narrowing.items():
        if key not in merged:
            merged[key] = value
        elif isinstance(merged[key], Mapping) and isinstance(value, Mapping):
            merged[key] = _merged(merged[key], value)
        elif isinstance(merged[key], list) and isinstance(value, list):
            merged[key] = [item for item in merged[key] if item in value]
        else:
            raise ValueError(f"event pattern field '{key}' cannot be narrowed by {value!r}")
    return merged
