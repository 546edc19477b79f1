"""One self-contained HTML file: tables and inline SVG charts, no scripts, fonts or links."""

from __future__ import annotations

from html import escape

from comparison.charts import breakdown_chart, cost_volume_chart, latency_chart
from comparison.diagram import render_diagram
from comparison.report import Comparison
from comparison.report_tables import (
    Table,
    footnotes,
    line_item_table,
    qualities_table,
    summary_table,
    sweep_tables,
)

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.9rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}caption{text-align:left;font-weight:600;padding:.3rem 0}
.warn{color:#a00;font-weight:600}svg{max-width:100%;height:auto;display:block;margin:.5rem 0 1rem}
details{margin:.5rem 0 1rem}summary{cursor:pointer;font-weight:600}
"""


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in table.rows
    )
    return f"<table><caption>{escape(table.title)}</caption><tr>{head}</tr>{body}</table>"


def render_html(comparison: Comparison) -> str:
    cheapest = comparison.cheapest
    headline = (
        f"For {comparison.workload.volume_per_month:,.0f} tasks a month, the cheapest complete "
        f"topology is <strong>{escape(cheapest)}</strong>."
        if cheapest
        else "No topology is complete yet."
    )
    sections = [
        f"<h1>Async-task topologies: cost and latency ({escape(comparison.region)})</h1>",
        f"<p>{headline}</p>",
        _table(summary_table(comparison)),
        "<h2>Cost against monthly volume</h2>",
        cost_volume_chart(comparison),
        *(_table(t) for t in sweep_tables(comparison)[1:]),
        "<h2>Where the money goes</h2>",
        breakdown_chart(comparison),
        "<h2>Latency</h2>",
        latency_chart(comparison),
        _table(qualities_table(comparison)),
        "<h2>Topologies</h2>",
    ]
    for topology in comparison.topologies:
        status = escape(topology.status)
        css = "" if topology.status == "complete" else ' class="warn"'
        sections += [
            f"<h3>{escape(topology.label)} <small>({escape(topology.stack_id)})</small></h3>",
            f"<p{css}>{status}</p>",
            render_diagram(topology.model),
            f"<details><summary>Line items</summary>{_table(line_item_table(topology))}</details>",
        ]
    sections.append(
        "<ul>" + "".join(f"<li>{escape(n)}</li>" for n in footnotes(comparison)) + "</ul>"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Async-task topologies: cost and latency</title>"
        f"<style>{_CSS}</style></head><body>" + "\n".join(sections) + "</body></html>\n"
    )
