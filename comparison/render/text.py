"""Plain-text and Markdown renderings of :mod:`comparison.render.tables`."""

from __future__ import annotations

from collections.abc import Sequence

from comparison.build import Report
from comparison.render.tables import (
    Table,
    all_tables,
    decision_lines,
    decision_table,
    footnotes,
)


def _text_table(table: Table) -> str:
    widths = [
        max(len(row[i]) for row in (table.headers, *table.rows)) for i in range(len(table.headers))
    ]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([table.title, line(table.headers), rule, *(line(r) for r in table.rows)])


def _markdown_table(table: Table) -> str:
    def escape(cell: str) -> str:
        return cell.replace("|", "\\|")

    def row(cells: Sequence[str]) -> str:
        return "| " + " | ".join(escape(c) for c in cells) + " |"

    return "\n".join(
        [
            f"### {table.title}",
            "",
            row(table.headers),
            row(tuple("---" for _ in table.headers)),
            *(row(r) for r in table.rows),
        ]
    )


def render_text(report: Report) -> str:
    first = "".join(f"{note}\n\n" for note in report.notes)
    head = "\n".join(decision_lines(report)) + "\n\n" + _text_table(decision_table(report))
    body = "\n\n".join(_text_table(t) for t in all_tables(report))
    return first + head + "\n\n" + body + "\n\n" + "\n".join(footnotes(report)) + "\n"


def render_markdown(report: Report) -> str:
    first = "".join(f"> {note}\n\n" for note in report.notes)
    headline, *margin = decision_lines(report)
    said = "".join(f" {line}" for line in margin)  # one paragraph: the verdict, then its margin
    head = f"**{headline}**{said}\n\n{_markdown_table(decision_table(report))}"
    body = "\n\n".join(_markdown_table(t) for t in all_tables(report))
    notes = "\n".join(f"- {note}" for note in footnotes(report))
    title = "## Async-task topologies: cost and latency"
    return f"{title}\n\n{first}{head}\n\n{body}\n\n{notes}\n"
