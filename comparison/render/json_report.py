"""``--format json``: the Report as an interface, versioned and described by a JSON Schema
shipped beside this module (``report.schema.json``).

It carries the decision as the other formats state it: the chosen option (or null),
every option ranked with its verdict and reasons, and what would change it. The cheapest
option by cost alone, which ignores the latency targets, is named for what it is.
"""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from comparison.build import FORMAT_VERSION, Report
from comparison.decide.decision import Flip, Margin, Verdict, WhatWouldChange
from comparison.render.sizing_rows import (
    Difference,
    Reading,
    SizedRow,
    chosen_sizing,
    differences,
    sized_rows,
)

SCHEMA_PATH = Path(__file__).resolve().parent / "report.schema.json"

# Internals the interface leaves out: raw templates and models, per-minute profiles and
# every simulated wait (the percentiles are given instead).
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


def _verdict(verdict: Verdict, chosen: str | None) -> dict[str, Any]:
    return {
        "option": verdict.label,
        "verdict": "chosen"
        if verdict.label == chosen
        else ("eligible" if verdict.eligible else "not eligible"),
        "eligible": verdict.eligible,
        "monthly_cost": verdict.cost,
        "idle_cost": verdict.idle,
        "complete": verdict.complete,
        "keeps_up": verdict.keeps_up,
        "too_long": list(verdict.too_long),
        "misses": [
            {"task": m.task, "p95_seconds": m.p95_seconds, "max_wait_seconds": m.target_seconds}
            for m in verdict.misses
        ],
        "reason": verdict.why_not or None,
    }


def _margin(margin: Margin | None, found: tuple[Difference, ...]) -> dict[str, Any] | None:
    if margin is None:
        return None
    return {
        "lead": margin.lead,
        "threshold": margin.threshold,
        "decides": margin.decides,
        "contenders": list(margin.contenders),
        "reason": margin.reason,
        "differences": [{"ground": d.ground, "options": dict(d.values)} for d in found],
    }


def _decision(report: Report) -> dict[str, Any]:
    decision = report.decision
    return {
        "chosen": decision.chosen,
        "rule": "the cheapest option that is complete, keeps up, runs every task within its "
        "limits and meets every max_wait",
        "ranked": [_verdict(v, decision.chosen) for v in decision.ranked],
        "targets": [{"task": task, "max_wait_seconds": s} for task, s in decision.targets],
        "cost_decides": decision.cost_decides,
        "margin": _margin(decision.margin, differences(report)),
        "chosen_sizing": chosen_sizing(report),
        "deploy_command": report.deploy_command(decision.chosen) if decision.chosen else None,
    }


def _reading(found: Reading | None) -> dict[str, Any]:
    if found is None:
        return {"monthly_cost": None, "worst_p95_wait": None, "not_eligible": None}
    return {
        "monthly_cost": found.cost,
        "worst_p95_wait": (
            {"task": found.worst_task, "seconds": found.worst_p95_seconds}
            if found.worst_p95_seconds is not None
            else None
        ),
        "not_eligible": found.not_eligible,
    }


def _sized_option(report: Report, row: SizedRow) -> dict[str, Any]:
    option = report.sized(row.label)
    sized = None
    if row.cannot_meet is None:
        sized = {
            "description": row.sized_as,
            "document": row.sized_document,
            "deploy_command": report.deploy_command(row.label),
            **_reading(row.sized),
        }
    return {
        "option": row.label,
        "meets": row.cannot_meet is None,
        "binding": row.cannot_meet,
        "trials": option.trials if option is not None else 0,
        "sized": sized,
        "shipped": {
            "description": row.shipped_as,
            "document": row.shipped_document,
            **_reading(row.shipped),
        },
    }


def _sizing(report: Report) -> dict[str, Any] | None:
    if not report.sizing:
        return None
    reference = report.reference_decision
    return {
        "sizing_dir": report.sizing_dir,
        "shipped_choice": reference.chosen if reference is not None else None,
        "options": [_sized_option(report, row) for row in sized_rows(report)],
    }


def _flip(flip: Flip | None) -> dict[str, Any] | None:
    if flip is None:
        return None
    return {"factor": flip.factor, "becomes": flip.becomes, "because": flip.because}


def _changes(changes: WhatWouldChange | None) -> dict[str, Any] | None:
    if changes is None:
        return None
    return {
        "current": changes.current,
        "flip_points": [
            {
                "input": s.input,
                "searched": s.searched,
                "lower": _flip(s.lower),
                "higher": _flip(s.higher),
            }
            for s in changes.sensitivities
        ],
    }


def to_data(report: Report) -> dict[str, Any]:
    comparison = report.comparison
    data: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "notes": list(report.notes),
        "decision": _decision(report),
        "sizing": _sizing(report),
        "what_would_change": _changes(report.changes),
        "cheapest_by_cost_ignoring_targets": report.cheapest_by_cost,
    }
    data |= _plain(comparison)
    for entry, topology in zip(data["topologies"], comparison.topologies, strict=True):
        if not topology.keeps_up:  # no cost for an option that cannot keep up
            entry["cost"] = None
    return data


def render_json(report: Report) -> str:
    return json.dumps(to_data(report), indent=2, allow_nan=False) + "\n"


__all__ = ["SCHEMA_PATH", "render_json", "to_data"]
