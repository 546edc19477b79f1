"""``--format csv``: every line item per resource, with the decision's verdict on its option."""

from __future__ import annotations

import csv
import io

from comparison.build import Report
from comparison.render.line_items import line_item_rows

CSV_HEADERS = (
    "scope",
    "service",
    "resource",
    "logical_id",
    "price_key",
    "quantity",
    "unit",
    "free_quantity",
    "unit_price_usd",
    "price_as_published",
    "cost_usd",
    "calculation",
    "verdict",
)


def _verdict(report: Report, scope: str) -> str:
    """'chosen', 'eligible', 'not eligible: <why>', or 'baseline' for the web app's own."""
    if scope == "baseline":
        return "baseline"
    verdict = report.decision.verdict(scope)
    if verdict.label == report.decision.chosen:
        return "chosen"
    return "eligible" if verdict.eligible else f"not eligible: {verdict.why_not}"


def render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADERS)
    for r in line_item_rows(report.comparison):
        writer.writerow(
            (
                r.scope,
                r.service,
                r.resource,
                r.logical_id,
                r.price_key,
                f"{r.quantity:.6g}",
                r.unit,
                f"{r.free_quantity:.6g}",
                f"{r.unit_price:.10g}",
                r.published,
                f"{r.cost:.6f}",
                r.calculation,
                _verdict(report, r.scope),
            )
        )
    return out.getvalue()
