"""Dated price tables (``comparison/inputs/prices/<region>.json``): on-demand USD prices.

Each entry: ``usd`` per ``per`` units of ``unit``, the ``service`` it bills, its
``source`` (pricing page or Price List offer) and ``date``; optionally a monthly free
allowance ``free_per_month`` shared by every entry with the same ``free_pool``, and
``zero_tier_per_month``: a first tier priced at $0 for every account (EventBridge
Scheduler's first 14 million invocations), which applies with or without the free tier.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from comparison.errors import PriceTableError

PRICES_DIR = Path(__file__).resolve().parent / "prices"
_REQUIRED = ("usd", "unit", "service", "source", "date")


@dataclass(frozen=True, kw_only=True)
class Price:
    key: str
    usd: float
    per: float
    unit: str
    service: str
    source: str
    date: str
    free_per_month: float = 0.0
    free_pool: str = ""
    zero_tier_per_month: float = 0.0

    @property
    def unit_price(self) -> float:
        return self.usd / self.per

    @property
    def published(self) -> str:
        amount = f"{self.per:,.0f} " if self.per != 1 else ""
        usd = f"{self.usd:.10f}".rstrip("0").rstrip(".")
        return f"${usd} per {amount}{self.unit}"

    @property
    def pool(self) -> str:
        return self.free_pool or self.key

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "usd": self.usd,
            "per": self.per,
            "unit": self.unit,
            "service": self.service,
            "source": self.source,
            "date": self.date,
        }
        if self.free_per_month:
            entry["free_per_month"] = self.free_per_month
        if self.free_pool:
            entry["free_pool"] = self.free_pool
        if self.zero_tier_per_month:
            entry["zero_tier_per_month"] = self.zero_tier_per_month
        return entry


@dataclass(frozen=True)
class PriceTable:
    region: str
    prices: Mapping[str, Price]

    def __getitem__(self, key: str) -> Price:
        try:
            return self.prices[key]
        except KeyError as error:
            raise PriceTableError(
                [
                    f"{self.region}: no price '{key}'; add it to "
                    f"comparison/inputs/prices/{self.region}.json"
                ]
            ) from error

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "currency": "USD",
            "prices": {key: price.to_json() for key, price in sorted(self.prices.items())},
        }


def known_regions(directory: Path = PRICES_DIR) -> frozenset[str]:
    return frozenset(path.stem for path in directory.glob("*.json"))


def parse_price_table(region: str, document: Mapping[str, Any]) -> PriceTable:
    problems: list[str] = []
    prices: dict[str, Price] = {}
    for key, entry in document.get("prices", {}).items():
        missing = [name for name in _REQUIRED if name not in entry]
        if missing:
            problems.append(f"{region}: price '{key}' lacks {', '.join(missing)}")
            continue
        if float(entry["usd"]) < 0:
            problems.append(f"{region}: price '{key}' is {entry['usd']}; prices are 0 or more")
            continue
        prices[key] = Price(
            key=key,
            usd=float(entry["usd"]),
            per=float(entry.get("per", 1)),
            unit=str(entry["unit"]),
            service=str(entry["service"]),
            source=str(entry["source"]),
            date=str(entry["date"]),
            free_per_month=float(entry.get("free_per_month", 0)),
            free_pool=str(entry.get("free_pool", "")),
            zero_tier_per_month=float(entry.get("zero_tier_per_month", 0)),
        )
    if problems:
        raise PriceTableError(problems)
    return PriceTable(region=region, prices=prices)


def load_price_table(region: str, directory: Path = PRICES_DIR) -> PriceTable:
    path = directory / f"{region}.json"
    if not path.exists():
        raise PriceTableError(
            [
                f"no price table for region '{region}' ({path}); use one of "
                f"{', '.join(sorted(known_regions(directory)))}"
            ]
        )
    return parse_price_table(region, json.loads(path.read_text()))


def save_price_table(table: PriceTable, directory: Path = PRICES_DIR) -> Path:
    path = directory / f"{table.region}.json"
    path.write_text(json.dumps(table.to_json(), indent=2) + "\n")
    return path
