"""AWS::Scheduler::Schedule: one invocation per run of its cron() or rate() expression."""

from __future__ import annotations

from comparison.schedule_expr import runs_per_month
from comparison.templates import Resource
from comparison.usage.registry import Usage, UsageContext, extracts


@extracts("AWS::Scheduler::Schedule")
def schedule_invocations(schedule: Resource, context: UsageContext) -> list[Usage]:
    expression = schedule.properties.get("ScheduleExpression")
    if not isinstance(expression, str) or schedule.properties.get("State") == "DISABLED":
        return []
    runs = runs_per_month(expression)
    return [
        Usage("scheduler.invocation", runs, schedule.logical_id, f"{expression}: {runs:,.1f} runs")
    ]
