"""Renderers: each format a pure function of one :class:`~comparison.build.Report`,
registered here and nowhere else.

A format also says what the Report must hold for it (the volume sweep, the search for
what would change the decision), so the CLI builds the Report once with exactly that.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from comparison.build import Report


@dataclass(frozen=True, kw_only=True)
class Format:
    name: str
    module: str
    """Imported on use: the HTML renderer's charts are only needed for HTML."""
    function: str
    sweep: bool = False
    changes: bool = False
    help: str = ""

    def render(self, report: Report) -> str:
        render: Callable[[Report], str] = getattr(
            importlib.import_module(self.module), self.function
        )
        return render(report)


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            name="table",
            module="comparison.render.text",
            function="render_text",
            changes=True,
            help="plain-text tables (the default)",
        ),
        Format(
            name="markdown",
            module="comparison.render.text",
            function="render_markdown",
            changes=True,
            help="the same tables in Markdown",
        ),
        Format(
            name="json",
            module="comparison.render.json_report",
            function="render_json",
            changes=True,
            help="the versioned interface (comparison/render/report.schema.json)",
        ),
        Format(
            name="csv",
            module="comparison.render.csv_report",
            function="render_csv",
            help="the line items per resource, with each option's verdict and sizing",
        ),
        Format(
            name="html",
            module="comparison.render.html",
            function="render_html",
            sweep=True,
            changes=True,
            help="the full report with charts and diagrams",
        ),
        Format(
            name="adr",
            module="comparison.render.adr",
            function="render_adr",
            changes=True,
            help="ADR-0033 regenerated for the workload",
        ),
    )
}
