"""TaskSchedule: an EventBridge Scheduler schedule that delivers a task envelope."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Stack, TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from runtime.catalogue import ScheduleTrigger
from task_constructs.core import defaults
from task_constructs.core.acknowledge import acknowledge_resource, nag_resource_text
from task_constructs.core.defaults import given
from task_constructs.core.delivery import DeliveryProps, resolve_delivery
from task_constructs.core.envelope import schedule_envelope
from task_constructs.core.validation import fail_props, seconds
from task_constructs.service_waker import NUDGE_MAX_AGE, nudge_schedule_input

# EventBridge Scheduler limits.
_EVENT_AGE_RANGE_SECONDS = (60, 86_400)
_FLEXIBLE_WINDOW_RANGE_MINUTES = (1, 1440)


@dataclass(frozen=True, kw_only=True)
class TaskScheduleProps(DeliveryProps):
    """Properties of a :class:`TaskSchedule`. Set exactly one of ``queue`` and ``function``."""

    trigger: ScheduleTrigger
    """The catalogue's schedule: expression, time zone and static payload."""

    max_event_age: Duration | None = None
    """How long Scheduler keeps retrying one delivery (1 min..24 h). Default: 1 hour."""

    flexible_window: Duration | None = None
    """Let Scheduler start up to this long after the scheduled time, to spread load
    (1..1440 minutes). Default: off; delivery at the scheduled time."""

    schedule_group: scheduler.IScheduleGroup | None = None
    """The schedule group. Default: the account's ``default`` group."""

    enabled: bool = True
    """Whether the schedule runs. Default: true."""

    nudge_only: bool = False
    """Invoke ``function`` (a :class:`ServiceWaker`'s) with a nudge instead of the
    envelope, at the trigger's times: the wake twin of a schedule whose queue a worker
    service at zero consumes. A lost nudge has no DLQ and no retry (the wake-up alarm
    covers it). Default: false."""

    def __post_init__(self) -> None:
        violations = self.delivery_violations()
        age = seconds(self.max_event_age)
        low_age, high_age = _EVENT_AGE_RANGE_SECONDS
        if age is not None and not low_age <= age <= high_age:
            violations.append(
                f"max_event_age is {age:.0f} s; Scheduler accepts {low_age}..{high_age} s"
            )
        window = seconds(self.flexible_window)
        low_window, high_window = _FLEXIBLE_WINDOW_RANGE_MINUTES
        if window is not None and not low_window * 60 <= window <= high_window * 60:
            violations.append(
                f"flexible_window is {window:.0f} s; Scheduler accepts "
                f"{low_window}..{high_window} minutes"
            )
        if self.nudge_only and self.function is None:
            violations.append("nudge_only invokes a waker: set 'function', not 'queue'")
        if self.trigger not in self.task.schedules:
            violations.append(
                f"the trigger '{self.trigger.expression}' is not one of task "
                f"'{self.task.name}''s schedules in the catalogue"
            )
        fail_props("TaskScheduleProps", violations)


class TaskSchedule(Construct):
    """One EventBridge Scheduler schedule for one catalogue schedule of a task.

    The input is the task envelope: ``id`` is Scheduler's execution id (unique per
    run, the same on every retry of that run, so the runtime's idempotency ledger
    absorbs duplicate deliveries) and ``created_at`` is the scheduled time.

    Resources created: ``Schedule``, its execution role (by the target), and a
    ``DeliveryDeadLetterQueue`` unless one is given.
    """

    def __init__(self, scope: Construct, construct_id: str, props: TaskScheduleProps) -> None:
        super().__init__(scope, construct_id)

        delivery = resolve_delivery(self, props)
        self.dead_letter_queue: sqs.IQueue = delivery.dead_letter_queue
        self.retry_attempts: int = delivery.retry_attempts
        self.max_event_age: Duration = given(props.max_event_age, defaults.DELIVERY_MAX_EVENT_AGE)
        envelope = schedule_envelope(props.task.name, props.trigger.payload)
        target: scheduler.IScheduleTarget
        role: iam.Role | None = None
        if props.queue is not None:
            target = targets.SqsSendMessage(
                props.queue,
                input=envelope,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=self.retry_attempts,
                max_event_age=self.max_event_age,
            )
        elif props.function is not None:
            role = iam.Role(
                self,
                "TargetRole",
                assumed_by=_scheduler_principal(self, props.schedule_group),
                description=f"Scheduler invokes the function for task '{props.task.name}'",
            )
            target = (
                targets.LambdaInvoke(
                    props.function,
                    input=nudge_schedule_input(props.task.name),
                    retry_attempts=0,
                    max_event_age=NUDGE_MAX_AGE,
                    role=role,
                )
                if props.nudge_only
                else targets.LambdaInvoke(
                    props.function,
                    input=envelope,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=self.retry_attempts,
                    max_event_age=self.max_event_age,
                    role=role,
                )
            )
        else:  # TaskScheduleProps refuses this; kept so the target is always bound
            raise ValueError(f"TaskSchedule '{props.task.name}': set 'queue' or 'function'")
        self.schedule: scheduler.ISchedule = scheduler.Schedule(
            self,
            "Schedule",
            schedule=scheduler.ScheduleExpression.expression(
                props.trigger.expression, TimeZone.of(props.trigger.time_zone)
            ),
            target=target,
            description=(
                f"Wake the worker service for task '{props.task.name}' ({props.trigger.expression})"
                if props.nudge_only
                else f"Trigger task '{props.task.name}' ({props.trigger.expression})"
            ),
            schedule_group=props.schedule_group,
            enabled=props.enabled,
            time_window=(
                scheduler.TimeWindow.flexible(props.flexible_window)
                if props.flexible_window is not None
                else scheduler.TimeWindow.off()
            ),
        )
        if role is not None and props.function is not None:
            # The target grants the function and its versions while binding.
            any_version = nag_resource_text(self, props.function.function_arn) + ":*"
            acknowledge_resource(
                role.node.find_child("DefaultPolicy"),
                f"AwsSolutions-IAM5[Resource::{any_version}]",
                "Scheduler's Lambda target grants the function and its versions; the "
                "statement names this one function.",
            )


def _scheduler_principal(
    scope: Construct, group: scheduler.IScheduleGroup | None
) -> iam.ServicePrincipal:
    """Scheduler, only for this account's schedules in the schedule's group.

    The confused-deputy conditions of "Set up the execution role" in the EventBridge
    Scheduler user guide, the same that ``aws_scheduler_targets`` puts on the roles it
    creates for SQS targets.
    """
    stack = Stack.of(scope)
    group_arn = (
        group.schedule_group_arn
        if group is not None
        else stack.format_arn(
            service="scheduler", resource="schedule-group", resource_name="default"
        )
    )
    return iam.ServicePrincipal(
        "scheduler.amazonaws.com",
        conditions={
            "StringEquals": {"aws:SourceAccount": stack.account, "aws:SourceArn": group_arn}
        },
    )
