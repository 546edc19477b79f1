"""AWS::Scheduler::Schedule: one invocation per run of its cron() or rate() expression."""

from __future__ import annotations

from comparison.cost.usage.registry import Usage, UsageContext, extracts
from comparison.model.resources import ScheduleModel
from comparison.model.schedule_expr import runs_per_month


@extracts("AWS::Scheduler::Schedule")
def schedule_invocations(schedule: ScheduleModel, context: UsageContext) -> list[Usage]:
    expression = schedule.expression
    if expression is None or not schedule.enabled:
        return []
    runs = runs_per_month(expression)
    return [
        Usage("scheduler.invocation", runs, schedule.logical_id, f"{expression}: {runs:,.1f} runs")
    ]
