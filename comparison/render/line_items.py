"""Line items per resource, each with its calculation written out; the HTML report's
tables and ``--format csv`` carry the same rows."""

from __future__ import annotations

from dataclasses import dataclass

from comparison.cost.costing import CostBreakdown
from comparison.cost.estimate import Comparison
from comparison.model.topology import TopologyModel
from comparison.render.tables import money, quantity

SUB_CENT = 0.005
"""Rows below this (they print as $0.00) are folded in the HTML report."""


@dataclass(frozen=True, kw_only=True)
class Row:
    scope: str
    """A topology's label, or 'baseline'."""
    service: str
    resource: str
    """The resource's construct path, shortened."""
    logical_id: str
    price_key: str
    quantity: float
    unit: str
    free_quantity: float
    unit_price: float
    published: str
    cost: float
    calculation: str


def resource_name(model: TopologyModel | None, logical_id: str) -> str:
    resource = model.resource(logical_id) if model else None
    if resource is None:
        return logical_id
    parts = [p for p in resource.path.split("/")[1:] if p not in ("Resource", "Default")]
    return "/".join(parts[-3:]) or logical_id


def _rows(scope: str, breakdown: CostBreakdown, model: TopologyModel | None) -> list[Row]:
    rows = []
    for item in breakdown.items:
        for part in item.parts:
            share = part.quantity / item.quantity if item.quantity else 0.0
            free = item.free_quantity * share
            cost = item.part_cost(part)
            billed = (
                f"({quantity(part.quantity)} - {quantity(free)} free) {item.unit}"
                if free
                else f"{quantity(part.quantity)} {item.unit}"
            )
            rows.append(
                Row(
                    scope=scope,
                    service=item.service,
                    resource=resource_name(model, part.resource),
                    logical_id=part.resource,
                    price_key=item.price_key,
                    quantity=part.quantity,
                    unit=item.unit,
                    free_quantity=free,
                    unit_price=item.unit_price,
                    published=item.published,
                    cost=cost,
                    calculation=f"{part.note}: {billed} x {item.published} = {money(cost)}",
                )
            )
    return sorted(rows, key=lambda r: (-r.cost, r.service, r.resource, r.price_key))


def line_item_rows(comparison: Comparison) -> list[Row]:
    """The baseline's rows, then each topology's that keeps up (no cost otherwise)."""
    model = comparison.topologies[0].model if comparison.topologies else None
    rows = _rows("baseline", comparison.baseline, model)
    for topology in comparison.topologies:
        if topology.keeps_up:
            rows += _rows(topology.label, topology.cost, topology.model)
    return rows
