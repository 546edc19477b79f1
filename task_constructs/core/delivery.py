"""What schedules and event rules share: a target, a delivery DLQ and a retry count."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from runtime.catalogue import TaskType
from task_constructs.core import defaults
from task_constructs.core.defaults import given
from task_constructs.core.delivery_dlq import delivery_dead_letter_queue
from task_constructs.core.validation import exactly_one

# EventBridge Scheduler and EventBridge rule targets accept 0..185 retries.
_RETRY_RANGE = (0, 185)


@dataclass(frozen=True, kw_only=True)
class DeliveryProps:
    """Set exactly one of ``queue`` and ``function``."""

    task: TaskType
    """The task type triggered; its name goes in the envelope."""

    queue: sqs.IQueue | None = None
    """Send the envelope to this queue. Default: none; set this or ``function``."""

    function: lambda_.IFunction | None = None
    """Invoke this function with the envelope (asynchronously), e.g. the HTTP invoker
    of the private-endpoints topology. Default: none; set this or ``queue``."""

    dead_letter_queue: sqs.IQueue | None = None
    """Where envelopes go that could not be delivered after the retries.
    Default: a new encrypted, TLS-only DLQ kept 14 days."""

    retry_attempts: int | None = None
    """Delivery retries before the envelope goes to the DLQ (0..185). Default: 3."""

    def delivery_violations(self) -> list[str]:
        violations = exactly_one(queue=self.queue, function=self.function)
        low, high = _RETRY_RANGE
        if self.retry_attempts is not None and not low <= self.retry_attempts <= high:
            violations.append(f"retry_attempts is {self.retry_attempts}; use {low}..{high}")
        return violations


@dataclass(frozen=True)
class ResolvedDelivery:
    dead_letter_queue: sqs.IQueue
    retry_attempts: int


def resolve_delivery(scope: Construct, props: DeliveryProps) -> ResolvedDelivery:
    """The given DLQ and retry count, or the defaults (a new DLQ under ``scope``, 3)."""
    return ResolvedDelivery(
        dead_letter_queue=(
            props.dead_letter_queue
            if props.dead_letter_queue is not None
            else delivery_dead_letter_queue(
                scope, "DeliveryDeadLetterQueue", "EventBridge Scheduler or EventBridge"
            )
        ),
        retry_attempts=given(props.retry_attempts, defaults.DELIVERY_RETRY_ATTEMPTS),
    )
