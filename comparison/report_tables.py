"""The report as tables (headers and rows of text), shared by the text and Markdown formats."""

from __future__ import annotations

from dataclasses import dataclass

from comparison.report import Comparison, TopologyReport


@dataclass(frozen=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def money(value: float) -> str:
    return f"${value:,.2f}"


def seconds(value: float) -> str:
    if value >= 3600:
        return f"{value / 3600:.1f} h"
    if value >= 120:
        return f"{value / 60:.1f} min"
    return f"{value:.1f} s"


def quantity(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.3g}"


def summary_table(comparison: Comparison) -> Table:
    rows = []
    for t in comparison.topologies:
        lat = t.latency
        rows.append(
            (
                t.label + ("" if t.complete else " (placeholder)"),
                money(t.cost.total),
                money(t.idle.total),
                seconds(lat.p50_seconds) if lat else "n/a",
                seconds(lat.p95_seconds) if lat else "n/a",
                seconds(lat.worst_after_idle_seconds) if lat else "n/a",
                f"{lat.peak_units} {lat.unit_label}" if lat else "n/a",
            )
        )
    return Table(
        "Monthly cost and latency (enqueue to start of work)",
        ("topology", "per month", "idle (0 tasks)", "p50", "p95", "worst after idle", "peak"),
        tuple(rows),
    )


def line_item_table(topology: TopologyReport) -> Table:
    rows = tuple(
        (
            item.service,
            f"{quantity(item.quantity)} {item.unit}"
            + (f" ({quantity(item.free_quantity)} free)" if item.free_quantity else ""),
            item.published,
            money(item.cost),
        )
        for item in sorted(topology.cost.items, key=lambda i: -i.cost)
    )
    return Table(
        f"{topology.label}: line items ({topology.status})",
        ("service", "usage", "unit price", "cost"),
        (*rows, ("total", "", "", money(topology.cost.total))),
    )


def qualities_table(comparison: Comparison) -> Table:
    rows = tuple(
        (
            t.label,
            q.retries,
            q.loss_on_restart,
            q.fifteen_minute_limit,
            q.web_app_load,
            q.code_changes,
        )
        for t in comparison.topologies
        if (q := t.qualities) is not None
    )
    return Table(
        "What the ADR says",
        (
            "topology",
            "retries built in",
            "loss on restart",
            "15-minute limit",
            "load on web app",
            "code changes",
        ),
        rows,
    )


def sweep_tables(comparison: Comparison) -> list[Table]:
    if comparison.sweep is None or not comparison.sweep.points:
        return []
    labels = tuple(comparison.sweep.points[0].totals)
    points = tuple(
        (
            quantity(p.volume_per_month),
            *(money(p.totals[label]) + (" *" if label in p.overloaded else "") for label in labels),
            p.cheapest,
        )
        for p in comparison.sweep.points
    )
    crossings = tuple(
        (quantity(c.volume_per_month), c.from_label, c.to_label)
        for c in comparison.sweep.cross_overs
    )
    return [
        Table(
            "Cost against monthly volume (* cannot keep up: raise its maximum capacity)",
            ("tasks/month", *labels, "cheapest"),
            points,
        ),
        Table(
            "Cross-over points",
            ("about tasks/month", "cheapest below", "cheapest above"),
            crossings,
        ),
    ]


def all_tables(comparison: Comparison) -> list[Table]:
    return [
        summary_table(comparison),
        *(line_item_table(t) for t in comparison.topologies),
        qualities_table(comparison),
        *sweep_tables(comparison),
    ]


def footnotes(comparison: Comparison) -> list[str]:
    cheapest = comparison.cheapest
    web = comparison.workload.webapp
    notes = [
        f"Region {comparison.region}; on-demand prices dated {', '.join(comparison.price_dates)}; "
        f"free tier {'on' if comparison.free_tier else 'off'}.",
        f"Workload: {comparison.workload.volume_per_month:,.0f} tasks/month.",
        f"Not included anywhere: the web app's own {web.tasks} x {web.vcpu:g} vCPU / "
        f"{web.memory_gib:g} GB tasks (about {money(comparison.web_app_baseline)}/month), "
        "which run in every topology; only what task work adds to them is charged.",
    ]
    if cheapest:
        notes.append(f"Cheapest complete topology for this workload: {cheapest}.")
    notes.extend(f"{t.label}: {t.status}" for t in comparison.topologies if not t.complete)
    return notes
