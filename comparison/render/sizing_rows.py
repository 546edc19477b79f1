"""What every format says about sizing and the margin, read from the Report once.

Per option: the sizing the search found with its monthly cost and worst p95 wait (or the
limit that binds when no sizing meets), beside the settings shipped (the templates as
synthesized: a reference, not the verdict). For the decision: whether cost decides, and,
when it does not, the ADR's qualitative rows on which the contenders differ. Nothing here
simulates, prices or decides: each value is a field of the Report, put in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from comparison.cost.estimate import Comparison, TopologyReport
from comparison.decide.decision import Decision
from comparison.model.sizing import describe_sizing
from runtime.contract.sizing import section_document

if TYPE_CHECKING:
    from comparison.build import Report

# The ADR's grounds other than cost (the margin's sentence names the same four):
# (field of comparison.inputs.qualitative.Qualities, its name in a report).
OTHER_GROUNDS: tuple[tuple[str, str], ...] = (
    ("retries", "retries"),
    ("loss_on_restart", "loss on restart"),
    ("web_app_load", "load on the web app"),
    ("code_changes", "code changes"),
)

SHIPPED = "the settings shipped (a reference, not the verdict)"
"""How every format labels the reference column."""


@dataclass(frozen=True, kw_only=True)
class Reading:
    """One option's monthly cost and worst p95 wait under one set of settings."""

    cost: float | None
    """The monthly increment over the baseline; None when it cannot keep up."""
    worst_task: str | None
    worst_p95_seconds: float | None
    """None when it cannot keep up (its waits grow without bound) or ran no task."""
    not_eligible: str | None = None
    """Why the decision's rule would not accept it at these settings (None: it would)."""


@dataclass(frozen=True, kw_only=True)
class SizedRow:
    """One option sized for the workload, beside its settings shipped."""

    label: str
    sized_as: str | None
    """The sizing found, in a line; None when no sizing meets the workload."""
    sized_document: dict[str, Any] | None
    """The sizing file's section for it (what ``-c sizing=`` synthesizes)."""
    cannot_meet: str | None
    """The limit that binds when no sizing meets."""
    sized: Reading | None
    """Its cost and latency at that sizing; None when it cannot meet."""
    shipped_as: str | None
    """The sizing its template states; None for a stack of no known kind."""
    shipped_document: dict[str, Any] | None
    shipped: Reading | None
    """Its cost and latency as synthesized; None when the report has no reference."""

    @property
    def sizing_text(self) -> str:
        """The sizing found, or "cannot meet: <the limit that binds>"."""
        if self.cannot_meet is not None:
            return f"cannot meet: {self.cannot_meet}"
        return self.sized_as or "as synthesized"


@dataclass(frozen=True, kw_only=True)
class Difference:
    """One of the ADR's grounds on which the contenders differ."""

    ground: str
    values: tuple[tuple[str, str], ...]
    """(option, what the ADR says of it), in the margin's order of contenders."""


def _reading(topology: TopologyReport | None, decision: Decision | None) -> Reading | None:
    """``topology``'s cost and worst p95 wait, and why ``decision`` ruled it out."""
    if topology is None:
        return None
    worst = topology.latency.worst if topology.latency is not None else None
    coping = topology.keeps_up
    verdict = decision.verdict(topology.label) if decision is not None else None
    return Reading(
        cost=topology.monthly_total,
        worst_task=worst.task if worst is not None and coping else None,
        worst_p95_seconds=worst.wait_p95 if worst is not None and coping else None,
        not_eligible=(verdict.why_not or None) if verdict is not None else None,
    )


def _topology(comparison: Comparison | None, label: str) -> TopologyReport | None:
    if comparison is None:
        return None
    return next((t for t in comparison.topologies if t.label == label), None)


def sized_rows(report: Report) -> tuple[SizedRow, ...]:
    """One row per option sized, in the decision's ranking; () when the templates were
    compared as synthesized."""
    order = {verdict.label: i for i, verdict in enumerate(report.decision.ranked)}
    rows = []
    for option in sorted(report.sizing, key=lambda o: (order.get(o.label, len(order)), o.label)):
        sizing, stated = option.sizing, option.stated
        rows.append(
            SizedRow(
                label=option.label,
                sized_as=describe_sizing(sizing) if sizing is not None else None,
                sized_document=section_document(sizing) if sizing is not None else None,
                cannot_meet=option.binding,
                sized=_reading(_topology(report.comparison, option.label), report.decision)
                if option.meets
                else None,
                shipped_as=describe_sizing(stated) if stated is not None else None,
                shipped_document=section_document(stated) if stated is not None else None,
                shipped=_reading(
                    _topology(report.reference, option.label), report.reference_decision
                ),
            )
        )
    return tuple(rows)


def chosen_sizing(report: Report) -> str | None:
    """The chosen option's sizing in a line ("worker-service: up to 12 tasks of ..."); None
    when nothing is chosen or the report was not sized."""
    chosen = report.decision.chosen
    option = report.sized(chosen) if chosen is not None else None
    if option is None or option.sizing is None:
        return None
    return f"{option.label}: {describe_sizing(option.sizing)}"


def margin_sentence(report: Report) -> str | None:
    """Whether cost decides, in the margin's sentence ("Cost decides: ..." or "Cost does
    not decide: ..."); None without a runner-up to lead."""
    margin = report.decision.margin
    return margin.reason if margin is not None else None


def differences(report: Report) -> tuple[Difference, ...]:
    """The ADR's grounds on which the contenders differ, when cost does not decide."""
    margin = report.decision.margin
    if margin is None or margin.decides:
        return ()
    qualities = {
        t.label: t.qualities for t in report.comparison.topologies if t.qualities is not None
    }
    contenders = [label for label in margin.contenders if label in qualities]
    found = []
    for field, ground in OTHER_GROUNDS:
        values = tuple((label, str(getattr(qualities[label], field))) for label in contenders)
        if len({value for _, value in values}) > 1:
            found.append(Difference(ground=ground, values=values))
    return tuple(found)


__all__ = [
    "OTHER_GROUNDS",
    "SHIPPED",
    "Difference",
    "Reading",
    "SizedRow",
    "chosen_sizing",
    "differences",
    "margin_sentence",
    "sized_rows",
]
