"""``--format csv``: every line item per resource, with the decision's verdict on its option,
the option's sizing beside the settings shipped, and whether cost decides.

The option's columns repeat on each of its rows, so a spreadsheet can filter by option;
an option with no cost (it cannot keep up) gets one row without a line item, so every
option's verdict is in the file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from comparison.build import Report
from comparison.render.line_items import Row, line_item_rows
from comparison.render.sizing_rows import Reading, SizedRow, differences, sized_rows

LINE_ITEM_HEADERS = (
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
)
OPTION_HEADERS = (
    "verdict",
    "sizing",
    "option_cost_usd",
    "option_worst_p95_wait_seconds",
    "shipped_sizing",
    "shipped_cost_usd",
    "shipped_worst_p95_wait_seconds",
    "cost_decides",
    "other_grounds",
)
"""Per option (empty for the baseline): the sizing found or "cannot meet: <limit>", its
cost and worst p95 wait; the settings shipped (a reference, not the verdict) with theirs;
"yes" or "no" (empty without a runner-up); and, when cost does not decide, the ADR's
grounds on which this contender differs from the others."""
CSV_HEADERS = LINE_ITEM_HEADERS + OPTION_HEADERS


def _verdict(report: Report, scope: str) -> str:
    """'chosen', 'eligible', 'not eligible: <why>', or 'baseline' for the web app's own."""
    if scope == "baseline":
        return "baseline"
    verdict = report.decision.verdict(scope)
    if verdict.label == report.decision.chosen:
        return "chosen"
    return "eligible" if verdict.eligible else f"not eligible: {verdict.why_not}"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def _reading(found: Reading | None) -> tuple[str, str]:
    if found is None:
        return "", ""
    return _number(found.cost), _number(found.worst_p95_seconds)


def _option_columns(report: Report) -> dict[str, tuple[str, ...]]:
    """Per option, the values of OPTION_HEADERS."""
    sized: dict[str, SizedRow] = {row.label: row for row in sized_rows(report)}
    margin = report.decision.margin
    decides = "" if margin is None else ("yes" if margin.decides else "no")
    grounds: dict[str, list[str]] = {}
    for difference in differences(report):
        for label, value in difference.values:
            grounds.setdefault(label, []).append(f"{difference.ground}: {value}")
    columns: dict[str, tuple[str, ...]] = {}
    for topology in report.comparison.topologies:
        row = sized.get(topology.label)
        columns[topology.label] = (
            _verdict(report, topology.label),
            row.sizing_text if row is not None else "",
            *(_reading(row.sized) if row is not None else ("", "")),
            (row.shipped_as or "") if row is not None else "",
            *(_reading(row.shipped) if row is not None else ("", "")),
            decides,
            "; ".join(grounds.get(topology.label, ())),
        )
    return columns


def _line_item(r: Row) -> tuple[str, ...]:
    return (
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
    )


def _rows(report: Report) -> Iterator[tuple[str, ...]]:
    options = _option_columns(report)
    baseline = ("baseline", *("" for _ in OPTION_HEADERS[1:]))
    for r in line_item_rows(report.comparison):
        yield _line_item(r) + options.get(r.scope, baseline)
    for topology in report.comparison.topologies:
        if not topology.keeps_up:  # no line items: one row carries its verdict
            empty = ("" for _ in LINE_ITEM_HEADERS[1:-1])
            no_cost = f"no cost: {topology.status}"
            yield (topology.label, *empty, no_cost, *options[topology.label])


def render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADERS)
    writer.writerows(_rows(report))
    return out.getvalue()
