"""AWS::Scheduler::Schedule: one invocation per run of its cron() or rate() expression."""

from __future__ import annotations

from comparison.cost.usage.registry import Usage, UsageContext, extracts
from comparison.inputs.templates import Resource
from comparison.model.schedule_expr import runs_per_month


@extracts("AWS::Scheduler::Schedule")
def schedule_invocations(schedule: Resource, context: UsageContext) -> list[Usage]:
    expression = schedule.properties.get("ScheduleExpression")
    if not isinstance(expression, str) or schedule.properties.get("State") == "DISABLED":
        return []
    runs = runs_per_month(expression)
    return [
        Usage("scheduler.invocation", runs, schedule.logical_id, f"{expression}: {runs:,.1f} runs")
    ]
