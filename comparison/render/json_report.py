"""JSON rendering: the comparison data, without the raw templates."""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any

from comparison.report import Comparison

_OMIT = {"template", "model", "profile", "waits", "timeline", "wait_tasks", "daily"}
# Derived values the readers want next to the fields.
_DERIVED = ("total", "p50_seconds", "p95_seconds", "max_seconds", "keeps_up", "monthly_total")


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        data = {
            f.name: _plain(getattr(value, f.name)) for f in fields(value) if f.name not in _OMIT
        }
        for name in _DERIVED:
            if hasattr(value, name):
                data[name] = _plain(getattr(value, name))
        if hasattr(value, "end_to_end"):
            data["end_to_end"] = dict(zip(("p50", "p95", "max"), value.end_to_end, strict=True))
        return data
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_data(comparison: Comparison) -> dict[str, Any]:
    data: dict[str, Any] = _plain(comparison)
    data["cheapest"] = comparison.cheapest
    for entry, topology in zip(data["topologies"], comparison.topologies, strict=True):
        if not topology.keeps_up:  # no cost for an option that cannot keep up
            entry["cost"] = None
    return data


def render_json(comparison: Comparison) -> str:
    return json.dumps(to_data(comparison), indent=2) + "\n"


__all__ = ["render_json", "to_data"]
