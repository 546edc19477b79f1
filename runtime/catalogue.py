"""The task catalogue: the single source of truth for task types.

The CDK stacks, the runtime and the cost model all read :data:`CATALOGUE`. Adding
a task type takes one :class:`TaskType` entry here and one handler module.

This module must stay importable without aws_cdk: it ships inside the Lambda
zip and the container image.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from runtime.contract.schedule_expression import violations

__all__ = [
    "CATALOGUE",
    "LAMBDA_MAX_DURATION_SECONDS",
    "TASK_NAME_MAX_LENGTH",
    "CatalogueError",
    "EventTrigger",
    "OnDemand",
    "ScheduleTrigger",
    "TaskCatalogue",
    "TaskType",
    "Trigger",
    "is_task_name",
]

LAMBDA_MAX_DURATION_SECONDS = 15 * 60
# Lambda's memory range, which bounds memory_mib: the memory one run of a task needs.
MEMORY_MIN_MIB = 128
MEMORY_MAX_MIB = 10_240
# SQS allows 1..1000 receives before redrive.
MAX_RECEIVE_COUNT_LIMIT = 1000
# Lambda's SQS event source accepts a maximum concurrency of 2..1000.
CONCURRENCY_CAP_RANGE = (2, 1000)

_NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
TASK_NAME_MAX_LENGTH = 40


def is_task_name(name: str) -> bool:
    """Kebab-case, at most 40 characters: also what makes a name safe in a URL path."""
    return len(name) <= TASK_NAME_MAX_LENGTH and _NAME_PATTERN.fullmatch(name) is not None


class CatalogueError(ValueError):
    """One or more task types are invalid; the message lists every violation."""

    def __init__(self, violations: list[str]) -> None:
        self.violations = list(violations)
        super().__init__("invalid task catalogue:\n  - " + "\n  - ".join(violations))


@dataclass(frozen=True, kw_only=True)
class OnDemand:
    """The web app triggers the task through the producer API."""


@dataclass(frozen=True, kw_only=True)
class ScheduleTrigger:
    """An EventBridge Scheduler schedule triggers the task.

    ``expression`` is a Scheduler expression: ``cron(min hour dom month dow year)``,
    ``rate(N minutes|hours|days)`` or ``at(yyyy-mm-ddThh:mm:ss)``. ``time_zone`` is an
    IANA name; cron and at expressions are evaluated in it. ``payload`` is the static
    payload placed in the envelope.
    """

    expression: str
    time_zone: str = "UTC"
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class EventTrigger:
    """An EventBridge rule with this event pattern triggers the task.

    The matched event becomes the envelope's payload.
    """

    pattern: Mapping[str, Any]
    description: str = ""


Trigger = OnDemand | ScheduleTrigger | EventTrigger


@dataclass(frozen=True, kw_only=True)
class TaskType:
    """One kind of asynchronous task.

    Durations are in seconds. ``max_duration_seconds`` is the hard limit: the Lambda
    timeout and the basis of queue visibility timeouts. ``expected_duration_seconds``
    is the typical run time used for scaling targets and the cost model.
    ``memory_mib`` is the memory one run needs: the task's Lambda ``MemorySize``, and
    what an ECS container holds for each run it works on at once (``stacks/sizing.py``
    refuses a container that cannot hold its threads times the largest task's memory).
    The sizing file's ``taskMemoryMiB`` overrides it at synth.
    ``handler`` is the dotted path ``package.module:function`` that runs the task.
    ``max_receive_count`` is the retry budget: failed handler attempts before the
    runtime dead-letters the task with its last reason (``runtime/contract/retry_budget.py``);
    the queue's SQS ``maxReceiveCount`` is a backstop above it.
    """

    name: str
    description: str
    triggers: tuple[Trigger, ...]
    expected_duration_seconds: float
    max_duration_seconds: int
    memory_mib: int
    handler: str
    max_receive_count: int = 5
    max_concurrency: int | None = None
    enqueues: tuple[str, ...] = ()
    """Task types this task's handler enqueues (fan-out, continuations); the stacks
    grant it exactly those queues."""
    sends_email: bool = False
    """Whether the handler sends email through SES; the stacks grant it the sender."""

    @property
    def schedules(self) -> tuple[ScheduleTrigger, ...]:
        return tuple(t for t in self.triggers if isinstance(t, ScheduleTrigger))

    @property
    def event_triggers(self) -> tuple[EventTrigger, ...]:
        return tuple(t for t in self.triggers if isinstance(t, EventTrigger))

    @property
    def on_demand(self) -> bool:
        return any(isinstance(t, OnDemand) for t in self.triggers)

    def violations(self) -> list[str]:
        """Every problem with this entry, as messages naming the task and the fix."""
        where = f"task '{self.name}'"
        found: list[str] = []
        if not is_task_name(self.name):
            found.append(
                f"{where}: name must be kebab-case (a-z, 0-9, single hyphens) and at most "
                f"{TASK_NAME_MAX_LENGTH} characters"
            )
        if not self.triggers:
            found.append(f"{where}: has no triggers; add OnDemand(), a schedule or an event")
        if self.expected_duration_seconds <= 0:
            found.append(
                f"{where}: expected_duration_seconds is {self.expected_duration_seconds}; "
                "it must be greater than 0"
            )
        if self.max_duration_seconds < self.expected_duration_seconds:
            found.append(
                f"{where}: max_duration_seconds ({self.max_duration_seconds}) is below "
                f"expected_duration_seconds ({self.expected_duration_seconds}); raise the "
                "maximum or lower the expectation"
            )
        if not MEMORY_MIN_MIB <= self.memory_mib <= MEMORY_MAX_MIB:
            found.append(
                f"{where}: memory_mib is {self.memory_mib}; it must be between "
                f"{MEMORY_MIN_MIB} and {MEMORY_MAX_MIB}"
            )
        if not 1 <= self.max_receive_count <= MAX_RECEIVE_COUNT_LIMIT:
            found.append(
                f"{where}: max_receive_count is {self.max_receive_count}; SQS accepts "
                f"1..{MAX_RECEIVE_COUNT_LIMIT}"
            )
        low, high = CONCURRENCY_CAP_RANGE
        if self.max_concurrency is not None and not low <= self.max_concurrency <= high:
            found.append(
                f"{where}: max_concurrency is {self.max_concurrency}; it must be "
                f"between {low} and {high}, or None for no cap"
            )
        if ":" not in self.handler:
            found.append(f"{where}: handler '{self.handler}' must be 'package.module:function'")
        for schedule in self.schedules:
            found.extend(f"{where}: {problem}" for problem in _schedule_violations(schedule))
        for event in self.event_triggers:
            if not event.pattern:
                found.append(f"{where}: an event trigger has an empty pattern")
        return found


class TaskCatalogue(Mapping[str, TaskType]):
    """An immutable, validated mapping of task name to :class:`TaskType`.

    Raises :class:`CatalogueError` listing every violation at once.
    """

    def __init__(self, tasks: Iterable[TaskType]) -> None:
        task_list = list(tasks)
        violations: list[str] = []
        seen: set[str] = set()
        names = {task.name for task in task_list}
        for task in task_list:
            unknown = [name for name in task.enqueues if name not in names]
            if unknown:
                violations.append(
                    f"task '{task.name}': enqueues unknown task type(s) {unknown}; add them "
                    "to the catalogue or drop them"
                )
            if task.name in seen:
                violations.append(
                    f"task '{task.name}': duplicate name; each task type needs a unique name"
                )
            seen.add(task.name)
            violations.extend(task.violations())
        if not task_list:
            violations.append("the catalogue is empty; add at least one TaskType")
        if violations:
            raise CatalogueError(violations)
        self._tasks = MappingProxyType({task.name: task for task in task_list})

    def __getitem__(self, name: str) -> TaskType:
        return self._tasks[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tasks)

    def __len__(self) -> int:
        return len(self._tasks)

    def __repr__(self) -> str:
        return f"TaskCatalogue({list(self._tasks)})"


def _schedule_violations(schedule: ScheduleTrigger) -> list[str]:
    found = violations(schedule.expression)
    if not _is_time_zone(schedule.time_zone):
        found.append(
            f"schedule '{schedule.expression.strip()}': unknown time zone "
            f"'{schedule.time_zone}'; use an IANA name such as 'Europe/London'"
        )
    return found


def _is_time_zone(name: str) -> bool:
    # ZoneInfo reads one file; available_timezones() would walk the whole database.
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


# GuardDuty Malware Protection for S3 publishes one event per scanned object ("Monitoring
# S3 object scans with Amazon EventBridge",
# https://docs.aws.amazon.com/guardduty/latest/ug/monitor-with-eventbridge-s3-malware-protection.html).
GUARDDUTY_SCAN_RESULT_PATTERN: Mapping[str, Any] = MappingProxyType(
    {
        "source": ["aws.guardduty"],
        "detail-type": ["GuardDuty Malware Protection Object Scan Result"],
    }
)

# SES publishes bounces and complaints of a configuration set's mail to EventBridge.
# The detail-types are SES's own names ("Monitoring SES events using Amazon EventBridge",
# https://docs.aws.amazon.com/ses/latest/dg/monitoring-eventbridge.html, and the
# EventBridge events reference, https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-ses.html):
# a complaint is "Email Complaint Received", not "Email Complained".
SES_FEEDBACK_PATTERN: Mapping[str, Any] = MappingProxyType(
    {"source": ["aws.ses"], "detail-type": ["Email Bounced", "Email Complaint Received"]}
)

CATALOGUE = TaskCatalogue(
    [
        TaskType(
            name="virus-scan-result",
            description="Act on a GuardDuty Malware Protection for S3 scan result.",
            triggers=(
                EventTrigger(
                    pattern=GUARDDUTY_SCAN_RESULT_PATTERN,
                    description="GuardDuty Malware Protection for S3 scan results",
                ),
            ),
            expected_duration_seconds=2,
            max_duration_seconds=60,
            memory_mib=256,
            handler="runtime.tasks.scans.virus_scan_result:handle",
            max_receive_count=5,
            enqueues=("property-bulk-upload",),
        ),
        TaskType(
            name="property-bulk-upload",
            description="Validate and load a CSV of property records from S3.",
            triggers=(OnDemand(),),
            expected_duration_seconds=120,
            max_duration_seconds=900,
            memory_mib=1024,
            handler="runtime.tasks.uploads.property_bulk_upload:handle",
            max_receive_count=3,
            max_concurrency=5,
            enqueues=("property-bulk-upload",),  # continuation chunks of large files
        ),
        TaskType(
            name="generate-report",
            description="Aggregate property records into a CSV report in S3.",
            triggers=(
                OnDemand(),
                ScheduleTrigger(
                    expression="cron(0 2 * * ? *)",
                    time_zone="Europe/London",
                    payload={"period": "previous-day"},
                ),
            ),
            expected_duration_seconds=300,
            max_duration_seconds=840,
            memory_mib=1024,
            handler="runtime.tasks.reports.generate_report:handle",
            max_receive_count=3,
            max_concurrency=2,
        ),
        TaskType(
            name="send-bulk-email",
            description="Send a templated email to a recipient list through SES.",
            triggers=(
                OnDemand(),
                ScheduleTrigger(
                    expression="cron(0 8 ? * MON *)",
                    time_zone="Europe/London",
                    payload={"template": "weekly-digest", "recipients_list": "subscribers"},
                ),
            ),
            expected_duration_seconds=60,
            max_duration_seconds=600,
            memory_mib=512,
            handler="runtime.tasks.email.send_bulk_email:handle",
            max_receive_count=5,
            max_concurrency=10,
            enqueues=("send-bulk-email",),  # large lists fan out in chunks
            sends_email=True,
        ),
        TaskType(
            name="email-feedback",
            description="Record SES bounces and complaints, and stop mailing those addresses.",
            triggers=(
                EventTrigger(
                    pattern=SES_FEEDBACK_PATTERN,
                    description="SES bounce and complaint events",
                ),
            ),
            expected_duration_seconds=1,
            max_duration_seconds=60,
            memory_mib=256,
            handler="runtime.tasks.email.email_feedback:handle",
            max_receive_count=5,
        ),
    ]
)
