"""One self-contained HTML file: the decision first, then charts, line items and diagrams.

Inline SVG and CSS only: no scripts, fonts or links. Readable at 390 px: a viewport meta
tag, charts that scale to the width, and tables that scroll inside their own box.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape

from comparison.build import Report
from comparison.cost.costing import CostBreakdown
from comparison.render.charts import breakdown_chart, cost_volume_chart, latency_chart
from comparison.render.diagram import render_diagram
from comparison.render.line_items import SUB_CENT, Row, line_item_rows
from comparison.render.tables import (
    Table,
    baseline_table,
    changes_table,
    decision_lines,
    decision_table,
    decision_tables,
    footnotes,
    money,
    qualities_table,
    summary_table,
    sweep_tables,
    task_latency_table,
)

_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:1rem auto;max-width:1100px;color:#222;padding:0 .75rem;
line-height:1.4;overflow-wrap:anywhere}
h1{font-size:1.5rem}h2{margin-top:2rem}
.scroll{overflow-x:auto;max-width:100%;margin:.5rem 0 1.5rem;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;font-size:.9rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left;vertical-align:top;
overflow-wrap:normal}
th{background:#f4f4f4}caption{text-align:left;font-weight:600;padding:.3rem 0}
td.num{text-align:right;white-space:nowrap}td.calc{min-width:22rem}
.warn{color:#a00;font-weight:600}
.decision{border:2px solid #0072B2;border-radius:6px;padding:.75rem 1rem;background:#f5f9fc}
.decision p{margin:.25rem 0 .75rem;font-size:1.05rem}
svg{display:block;margin:.5rem 0 1rem}
details{margin:.5rem 0 1rem}summary{cursor:pointer;font-weight:600}
"""


def _table(table: Table, numeric: frozenset[int] = frozenset()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{escape(cell)}</td>' if i in numeric else f"<td>{escape(cell)}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in table.rows
    )
    return (
        f'<div class="scroll"><table><caption>{escape(table.title)}</caption>'
        f"<tr>{head}</tr>{body}</table></div>"
    )


def _figure(svg: str) -> str:
    """A chart at its drawn size, scrolled sideways on a narrow screen rather than shrunk,
    so its smallest text stays at 10 px."""
    return f'<div class="scroll">{svg}</div>'


def _item_rows(rows: list[Row]) -> str:
    def row(r: Row) -> str:
        return (
            f"<tr><td>{escape(r.service)}</td><td>{escape(r.resource)}</td>"
            f'<td class="calc">{escape(r.calculation)}</td>'
            f'<td class="num">{escape(money(r.cost))}</td></tr>'
        )

    head = "<tr><th>service</th><th>resource</th><th>calculation</th><th>cost</th></tr>"
    shown = [r for r in rows if r.cost >= SUB_CENT]
    small = [r for r in rows if r.cost < SUB_CENT]
    folded = ""
    if small:
        total = sum(r.cost for r in small)
        folded = (
            f"<details><summary>{len(small)} rows under a cent ({money(total)} in all)</summary>"
            f'<div class="scroll"><table>{head}{"".join(row(r) for r in small)}</table></div>'
            "</details>"
        )
    return (
        f'<div class="scroll"><table>{head}{"".join(row(r) for r in shown)}</table></div>{folded}'
    )


def _idle_by_resource(breakdown: CostBreakdown) -> dict[str, float]:
    costs: dict[str, float] = defaultdict(float)
    for item in breakdown.items:
        for part in item.parts:
            costs[part.resource] += item.part_cost(part)
    return dict(costs)


def decision_block(report: Report) -> str:
    note = (
        "Ranked: the cheapest option that keeps up and meets the workload's max_wait first. "
        "Fixed is what it bills while idle; usage the rest. The volume band is where the "
        "decision picks it, by the same rule (the workload's mix)."
    )
    first = "".join(f'<p class="warn">{escape(n)}</p>' for n in report.notes)
    headline, *margin = decision_lines(report)
    changes = changes_table(report)
    return (
        f'<section class="decision" id="decision">{first}'
        f"<p><strong>{escape(headline)}</strong></p>"
        + "".join(f"<p>{escape(line)}</p>" for line in margin)
        + _table(decision_table(report), frozenset({3, 4, 5, 6}))
        + f"<small>{escape(note)}</small>"
        + "".join(_table(t) for t in decision_tables(report))
        + (_table(changes) if changes is not None else "")
        + "</section>"
    )


def render_html(report: Report) -> str:
    comparison = report.comparison
    rows = line_item_rows(comparison)
    by_scope: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by_scope[r.scope].append(r)
    baseline_ids = frozenset(
        part.resource for item in comparison.baseline.items for part in item.parts
    )
    sections = [
        f"<h1>Async-task options: cost and latency ({escape(comparison.region)}, "
        f"{comparison.workload.volume_per_month:,.0f} tasks a month)</h1>",
        decision_block(report),
        _table(summary_table(comparison)),
        "<h2>Cost against monthly volume</h2>",
        _figure(cost_volume_chart(comparison)),
        *(_table(t) for t in sweep_tables(comparison)),
        "<h2>Where the money goes</h2>",
        _figure(breakdown_chart(comparison)),
        "<h2>Latency per task type</h2>",
        _figure(latency_chart(comparison, report.decision)),
        _table(task_latency_table(comparison)),
        _table(qualities_table(comparison)),
        "<h2>Line items per resource</h2>",
        "<p>Every row is one resource's usage times its published price; "
        "<code>--format csv</code> writes the same rows.</p>",
        "<h3>Baseline: the web app as it runs today (in every option, in no total)</h3>",
        _item_rows(by_scope["baseline"]),
        _table(baseline_table(comparison), frozenset({3})),
    ]
    for topology in comparison.topologies:
        status = escape(topology.status)
        css = "" if topology.status == "complete" else ' class="warn"'
        idle = _idle_by_resource(topology.idle)
        endpoints = [e.logical_id for e in topology.model.network.interface_endpoints]
        idle["(interface endpoints)"] = sum(idle.get(e, 0.0) for e in endpoints)
        ids = baseline_ids | (
            {"(interface endpoints)"} if any(e in baseline_ids for e in endpoints) else set()
        )
        total = (
            f"{money(topology.cost.total)} a month over the baseline"
            if topology.keeps_up
            else "cannot keep up: no cost"
        )
        sections += [
            f"<h3>{escape(topology.label)} <small>({escape(topology.stack_id)}): "
            f"{escape(total)}, {escape(money(topology.idle.total))} idle</small></h3>",
            f"<p{css}>{status}</p>",
            _figure(render_diagram(topology.model, idle, frozenset(ids))),
            _item_rows(by_scope[topology.label])
            if topology.keeps_up
            else "<p>No line items: an option that cannot keep up gets no cost.</p>",
        ]
    sections.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in footnotes(report)) + "</ul>")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Async-task options: cost and latency</title>"
        f"<style>{_CSS}</style></head><body>" + "\n".join(sections) + "</body></html>\n"
    )


__all__ = ["decision_block", "render_html"]
