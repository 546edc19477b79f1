"""On-demand DynamoDB tables: the idempotency ledger's reads and writes per task run."""

from __future__ import annotations

from comparison.cost.usage.registry import Usage, UsageContext, extracts
from comparison.model.resources import TableModel


def on_demand_table(table: TableModel, context: UsageContext) -> list[Usage]:
    if not table.on_demand:
        return []  # provisioned capacity is not modelled
    a = context.assumptions
    runs = sum(context.volume(c.tasks) for c in context.routing.consumers)
    note = f"{runs:,.0f} task runs x ledger claim and completion"
    return [
        Usage("dynamodb.write_request", runs * a.dynamodb_writes_per_task, table.logical_id, note),
        Usage("dynamodb.read_request", runs * a.dynamodb_reads_per_task, table.logical_id, note),
    ]


extracts("AWS::DynamoDB::Table")(on_demand_table)
extracts("AWS::DynamoDB::GlobalTable")(on_demand_table)
