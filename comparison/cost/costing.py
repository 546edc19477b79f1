"""Price usage records into line items, one per price key, with optional free tiers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from comparison.cost.usage import Usage
from comparison.inputs.prices import PriceTable


@dataclass(frozen=True, kw_only=True)
class LineItem:
    service: str
    price_key: str
    quantity: float
    unit: str
    unit_price: float
    published: str
    """The price as published, e.g. '$0.40 per 1,000,000 requests'."""
    free_quantity: float
    cost: float
    resources: tuple[str, ...]
    notes: tuple[str, ...]
    parts: tuple[ResourceUsage, ...] = ()
    """The quantity per resource, with how it was derived; they sum to ``quantity``."""

    def part_cost(self, part: ResourceUsage) -> float:
        """A resource's share of the cost (free allowances shared pro rata)."""
        return self.cost * part.quantity / self.quantity if self.quantity else 0.0


@dataclass(frozen=True, kw_only=True)
class ResourceUsage:
    resource: str
    quantity: float
    note: str


@dataclass(frozen=True)
class CostBreakdown:
    items: tuple[LineItem, ...]
    spread: float = 0.0
    """Relative half-width of a 95% interval of the total from the simulated days'
    day-to-day variation (0 where nothing is simulated)."""

    @property
    def total(self) -> float:
        return sum(item.cost for item in self.items)

    def by_service(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for item in self.items:
            totals[item.service] += item.cost
        return dict(totals)


def price_usage(usages: Iterable[Usage], table: PriceTable, *, free_tier: bool) -> CostBreakdown:
    """Sum usage per price key, take free allowances (per pool) off, multiply by unit prices.

    A $0 first tier (``zero_tier_per_month``) is a price, not an offer: it always applies."""
    quantities: dict[str, float] = defaultdict(float)
    resources: dict[str, list[str]] = defaultdict(list)
    notes: dict[str, list[str]] = defaultdict(list)
    parts: dict[str, dict[str, list[Any]]] = defaultdict(dict)
    for usage in usages:
        quantities[usage.price_key] += usage.quantity
        part = parts[usage.price_key].setdefault(usage.resource, [0.0, []])
        part[0] += usage.quantity
        if usage.note not in part[1]:
            part[1].append(usage.note)
        if usage.resource not in resources[usage.price_key]:
            resources[usage.price_key].append(usage.resource)
        if usage.note not in notes[usage.price_key]:
            notes[usage.price_key].append(usage.note)
    remaining: dict[str, float] = {}
    items = []
    for key in sorted(quantities):
        price = table[key]
        offer = price.free_per_month if free_tier else 0.0
        allowance = remaining.setdefault(price.pool, offer + price.zero_tier_per_month)
        free = min(allowance, quantities[key])
        remaining[price.pool] = allowance - free
        items.append(
            LineItem(
                service=price.service,
                price_key=key,
                quantity=quantities[key],
                unit=price.unit,
                unit_price=price.unit_price,
                published=price.published,
                free_quantity=free,
                cost=(quantities[key] - free) * price.unit_price,
                resources=tuple(resources[key]),
                notes=tuple(notes[key]),
                parts=tuple(
                    ResourceUsage(resource=resource, quantity=q, note="; ".join(n))
                    for resource, (q, n) in parts[key].items()
                ),
            )
        )
    return CostBreakdown(tuple(items))
