"""What a rendered format says, read back from its text: the decision, each option's sized
cost (or the limit that binds), its cost at the settings shipped, and whether cost decides.

``tests/comparison/test_one_report.py`` compares what each format says with the Report.
Costs are read as the reports print them (``money``); an option the search could not size
reads "cannot meet: <limit>", one that cannot keep up "cannot keep up".
"""

from __future__ import annotations

import csv
import html
import io
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from comparison.render.tables import money

SIZING_TITLE = "Each option sized for the workload"
MARGIN_TITLE = "Cost does not decide: where the ADR says"
NOT_ELIGIBLE = " (not eligible)"
CANNOT_MEET = "cannot meet: "
CANNOT_KEEP_UP = "cannot keep up"


@dataclass(frozen=True, kw_only=True)
class Said:
    chosen: str | None
    sized: dict[str, str]
    """Option -> its sized cost ("$6.98"), "cannot meet: <limit>" or "cannot keep up"."""
    shipped: dict[str, str]
    """Option -> its cost at the settings shipped, or "cannot keep up"."""
    cost_decides: bool | None
    """None: the format says nothing of the margin (no runner-up)."""
    differences: set[tuple[str, str]]
    """(option, what the ADR says of it) on the grounds where the contenders differ."""


def _cost(value: float | None) -> str:
    return CANNOT_KEEP_UP if value is None else money(value)


def _sized_cell(sizing: str, cost: str) -> str:
    if sizing.startswith(CANNOT_MEET):
        return sizing
    return cost.removesuffix(NOT_ELIGIBLE)


def _margin_in_prose(text: str) -> bool | None:
    decides = "Cost decides: the lead" in text
    does_not = "Cost does not decide: the lead" in text
    if decides and does_not:
        raise AssertionError("the text says both that cost decides and that it does not")
    return True if decides else (False if does_not else None)


def _from_table(
    rows: list[list[str]], margin: list[list[str]], text: str, chosen: str | None
) -> Said:
    """The sizing table (option, sized, per month, p95, shipped, per month, p95) and the
    margin table (ground, then a column per contender, its header row first)."""
    differences: set[tuple[str, str]] = set()
    if margin:
        labels = margin[0][1:]
        differences = {(label, row[i + 1]) for row in margin[1:] for i, label in enumerate(labels)}
    return Said(
        chosen=chosen,
        sized={r[0]: _sized_cell(r[1], r[2]) for r in rows},
        shipped={r[0]: r[5].removesuffix(NOT_ELIGIBLE) for r in rows},
        cost_decides=_margin_in_prose(text),
        differences=differences,
    )


# -- the text table: columns as wide as the rule under the headers -------------------------


def _text_table(text: str, title: str) -> list[list[str]]:
    """The header and rows of the table titled ``title`` ([] when absent)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(title)), None)
    if start is None:
        return []
    header, rule = lines[start + 1], lines[start + 2]
    spans = [m.span() for m in re.finditer(r"-+", rule)]
    body = []
    for line in lines[start + 3 :]:
        if not line.strip():
            break
        body.append(line)

    def cells(line: str) -> list[str]:
        return [
            line[a : (spans[i + 1][0] if i + 1 < len(spans) else None)].strip()
            for i, (a, _) in enumerate(spans)
        ]

    return [cells(header), *(cells(line) for line in body)]


def _markdown_table(text: str, title: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"### {title}")), None)
    if start is None:
        return []
    table = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        table.append([c.strip() for c in line.strip("|").split(" | ")])
    return [table[0], *table[2:]]  # without the |---| row


def _html_table(text: str, title: str) -> list[list[str]]:
    found = re.search(
        rf"<caption>{re.escape(html.escape(title))}[^<]*</caption>(.*?)</table>", text
    )
    if found is None:
        return []
    return [
        [html.unescape(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", found.group(1))
    ]


def _tabled(read: Callable[[str, str], list[list[str]]], text: str, chosen: str | None) -> Said:
    sizing = read(text, SIZING_TITLE)
    return _from_table(sizing[1:], read(text, MARGIN_TITLE), text, chosen)


# -- JSON, CSV and the ADR -------------------------------------------------------------------


def _json(text: str) -> Said:
    data: dict[str, Any] = json.loads(text)
    decision = data["decision"]
    options = data["sizing"]["options"] if data["sizing"] else []
    margin = decision["margin"]
    return Said(
        chosen=decision["chosen"],
        sized={
            o["option"]: (
                _cost(o["sized"]["monthly_cost"]) if o["meets"] else CANNOT_MEET + o["binding"]
            )
            for o in options
        },
        shipped={o["option"]: _cost(o["shipped"]["monthly_cost"]) for o in options},
        cost_decides=None if margin is None else margin["decides"],
        differences={
            (label, value)
            for d in (margin["differences"] if margin else [])
            for label, value in d["options"].items()
        },
    )


def _csv(text: str) -> Said:
    rows = [r for r in csv.DictReader(io.StringIO(text)) if r["scope"] != "baseline"]
    first = {r["scope"]: r for r in reversed(rows)}  # any row of an option carries its columns
    chosen = {r["scope"] for r in rows if r["verdict"] == "chosen"}
    if len(chosen) > 1:
        raise AssertionError(f"the CSV chooses {chosen}")

    def cost(value: str) -> str:
        return money(float(value)) if value else CANNOT_KEEP_UP

    decides = {r["cost_decides"] for r in rows}
    if len(decides) > 1:
        raise AssertionError(f"the CSV's rows disagree on whether cost decides: {decides}")
    sized = {r["sizing"] for r in rows}
    return Said(
        chosen=next(iter(chosen), None),
        sized={
            label: _sized_cell(r["sizing"], cost(r["option_cost_usd"]))
            for label, r in first.items()
            if sized != {""}
        },
        shipped={label: cost(r["shipped_cost_usd"]) for label, r in first.items() if sized != {""}},
        cost_decides={"yes": True, "no": False}.get(next(iter(decides), "")),
        differences={
            (label, ground.split(": ", 1)[1])
            for label, r in first.items()
            for ground in _grounds(r["other_grounds"])
        },
    )


_GROUNDS = ("retries", "loss on restart", "load on the web app", "code changes")


def _grounds(cell: str) -> list[str]:
    """ "retries: ...; code changes: ..." split at each ground's name (values hold '; ')."""
    if not cell:
        return []
    starts = sorted(
        m.start() for g in _GROUNDS for m in re.finditer(rf"(?:^|; ){re.escape(g)}: ", cell)
    )
    bounds = [*starts, len(cell)]
    return [cell[a:b].removeprefix("; ") for a, b in itertools.pairwise(bounds)]


def _adr(text: str) -> Said:
    found = re.search(r"Chosen option: .*?\(`([\w-]+)`\)", text)
    if found is None and "No option keeps up" not in text:
        raise AssertionError("the ADR names no decision")
    sized, shipped = {}, {}
    outcome = text.split("## Decision Outcome", 1)[1].split("\n## ", 1)[0]
    for label, mine, theirs in re.findall(
        r"^\* ([\w-]+): (.*)\. Shipped as: (.*)\.$", outcome, flags=re.MULTILINE
    ):
        cost = re.search(r"\((\$[\d,.]+)/month", mine)
        sized[label] = (
            mine if mine.startswith(CANNOT_MEET) else (cost.group(1) if cost else CANNOT_KEEP_UP)
        )
        then = re.search(r"\((\$[\d,.]+)/month", theirs)
        shipped[label] = then.group(1) if then else CANNOT_KEEP_UP
    differences = {
        (label, value)
        for line in re.findall(r"^\* (?:" + "|".join(_GROUNDS) + r"): (.*)\.$", outcome, re.M)
        for label, value in re.findall(r"(?:^|; )([\w-]+): (.*?)(?=; [\w-]+: |$)", line)
    }
    return Said(
        chosen=found.group(1) if found else None,
        sized=sized,
        shipped=shipped,
        cost_decides=_margin_in_prose(outcome),
        differences=differences,
    )


def _headline_choice(text: str) -> str | None:
    found = re.search(r"Decision for [\d,]+ tasks/month: ([\w-]+), the cheapest", text)
    if found is None and "no option keeps up and meets the latency targets" not in text:
        raise AssertionError("the report names no decision")
    return found.group(1) if found else None


def said(name: str, text: str) -> Said:
    """What the format ``name`` says in ``text``."""
    if name == "json":
        return _json(text)
    if name == "csv":
        return _csv(text)
    if name == "adr":
        return _adr(text)
    read = {"table": _text_table, "markdown": _markdown_table, "html": _html_table}[name]
    return _tabled(read, text, _headline_choice(html.unescape(text)))
