"""Capacity: how much work each consumer can hold at once, and where each task saturates.

A consumer holds ``slots`` runs at once: a Lambda function its concurrency cap (the
event source's MaximumConcurrency, else reserved concurrency, else the account's), a
Fargate service its maximum tasks x poller threads (or web workers). Its average load
is sum(volume x duration) / seconds in a month. At a load of ``slots`` or more the
backlog grows across any period, so the topology cannot keep up, whatever its scaling.

Email has one more limit, the same in every topology: the account's SES send rate,
shared by every process that sends (:func:`ses_saturations`).
"""

from __future__ import annotations

from dataclasses import dataclass

from comparison.inputs.assumptions import HOURS_PER_MONTH, Assumptions
from comparison.inputs.workload import Workload
from comparison.model.resources import FunctionModel
from comparison.model.routing import Consumer
from runtime.catalogue import CATALOGUE

SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
ACCOUNT_CONCURRENCY = 1000  # the default regional Lambda concurrency quota


def lambda_cap(function: FunctionModel) -> int:
    if function.max_concurrency is not None:
        return function.max_concurrency
    if function.reserved_concurrency is not None:
        return function.reserved_concurrency
    return ACCOUNT_CONCURRENCY


def slots(consumer: Consumer, max_tasks: int) -> int:
    """Runs the consumer can hold at once; ``max_tasks`` is the service's MaxCapacity."""
    if isinstance(consumer.resource, FunctionModel):
        return lambda_cap(consumer.resource)
    return max_tasks * max(1, consumer.threads_per_unit)


@dataclass(frozen=True, kw_only=True)
class Saturation:
    task: str
    consumer: str
    slots: int
    utilisation: float
    """Average busy slots / slots of its consumer at the workload's volume."""
    saturates_at: float
    """This task's monthly volume at which its consumer is busy all the time, with the
    workload's mix kept (alone, for a task the workload does not run)."""
    active: bool = True
    """The workload runs this task (a volume above 0): only such a task can saturate first."""

    @property
    def keeps_up(self) -> bool:
        return self.utilisation < 1.0


def saturations(consumer: Consumer, capacity: int, workload: Workload) -> list[Saturation]:
    """One entry per task the consumer runs."""
    loads = {n: workload.task(n) for n in consumer.tasks}
    busy = sum(t.volume_per_month * t.duration_seconds for t in loads.values()) / SECONDS_PER_MONTH
    utilisation = busy / capacity if capacity else float("inf")
    found = []
    for name, task in loads.items():
        alone = capacity * SECONDS_PER_MONTH / task.duration_seconds
        at = task.volume_per_month / utilisation if task.volume_per_month else alone
        found.append(
            Saturation(
                task=name,
                consumer=consumer.logical_id,
                slots=capacity,
                utilisation=utilisation,
                saturates_at=at,
                active=task.volume_per_month > 0,
            )
        )
    return found


SES_RATE = "SES send rate"
"""The consumer named by a saturation of the account's SES send rate."""


def ses_saturations(workload: Workload, assumptions: Assumptions) -> list[Saturation]:
    """The account's SES send rate as a capacity: every task that sends email shares it
    (recipients per run x runs a month against rate x seconds a month). Its ``slots``
    is the rate in recipients a second, rounded down."""
    senders = [t for t in workload.tasks if t.name in CATALOGUE and CATALOGUE[t.name].sends_email]
    if not senders:
        return []
    per_second = assumptions.ses_send_rate_per_second
    recipients = assumptions.recipients_per_email_task
    sent = sum(t.volume_per_month for t in senders) * recipients
    utilisation = sent / (per_second * SECONDS_PER_MONTH)
    alone = per_second * SECONDS_PER_MONTH / recipients
    return [
        Saturation(
            task=t.name,
            consumer=SES_RATE,
            slots=int(per_second),
            utilisation=utilisation,
            saturates_at=t.volume_per_month / utilisation if t.volume_per_month else alone,
            active=t.volume_per_month > 0,
        )
        for t in senders
    ]
