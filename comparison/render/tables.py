"""The report as tables (headers and rows of text), shared by the text and Markdown formats."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from comparison.cost.estimate import Comparison, TopologyReport
from comparison.decide.decision import Flip, main_driver
from comparison.render.sizing_rows import (
    SHIPPED,
    Reading,
    differences,
    margin_sentence,
    sized_rows,
)
from comparison.render.svg import sig
from comparison.units import seconds as seconds  # re-exported for the renderers

if TYPE_CHECKING:
    from comparison.build import Report


@dataclass(frozen=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def money(value: float) -> str:
    """Dollars to the cent; a negative amount reads "\u2212$3.01" (a minus sign), not "$-3.01"."""
    return f"\u2212${-value:,.2f}" if value <= -0.005 else f"${abs(value):,.2f}"


def signed_money(value: float) -> str:
    """A difference: "+$3.01", "\u2212$3.01" or "$0.00"."""
    return "$0.00" if abs(value) < 0.005 else ("+" if value > 0 else "") + money(value)


def quantity(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.3g}"


def _total(t: TopologyReport) -> str:
    if not t.keeps_up:
        return "cannot keep up"
    spread = f" ±{t.cost.spread:.0%}" if t.cost.spread >= 0.005 else ""
    return money(t.cost.total) + spread


def band_text(report: Report, label: str) -> str:
    sweep = report.sweep
    if sweep is None or not sweep.points:
        return "n/a (no sweep)"
    first, last = sweep.points[0].volume_per_month, sweep.points[-1].volume_per_month
    searched = f"{sig(first)}..{sig(last)}"
    bands = report.bands.get(label)
    if not bands:
        return f"never (in {searched})"

    def one(low: float, high: float) -> str:
        left = f"<={sig(high)}" if low <= first else f"{sig(low)}"
        if low <= first:
            return left if high < last else f"all of {searched}"
        return f">={left}" if high >= last else f"{left}-{sig(high)}"

    return ", ".join(one(low, high) for low, high in bands)


def decision_headline(report: Report) -> str:
    """One sentence: the recommendation and why, or why there is none."""
    comparison, decision = report.comparison, report.decision
    volume = f"{comparison.workload.volume_per_month:,.0f} tasks/month"
    targets = (
        "meets every max_wait" if decision.targets else "meets every latency target (none stated)"
    )
    chosen = decision.chosen_verdict
    if chosen is None or chosen.cost is None:
        return (
            f"Decision for {volume}: no option keeps up and meets the latency targets; "
            + "; ".join(f"{v.label}: {v.why_not}" for v in decision.ranked)
        )
    runner = decision.runner_up
    margin = (
        f", {money((runner.cost or 0.0) - chosen.cost)} a month less than {runner.label}"
        if runner is not None
        else ", the only eligible option" + (" of those synthesized" if report.notes else "")
    )
    sized = ", each option sized for the workload" if report.sizing else ""
    return (
        f"Decision for {volume}: {chosen.label}, the cheapest option that keeps up and "
        f"{targets}{sized}: {money(chosen.cost)} a month over the baseline{margin}."
    )


def decision_lines(report: Report) -> list[str]:
    """The headline, then whether cost decides (with a runner-up to lead)."""
    note = margin_sentence(report)
    return [decision_headline(report), *((note,) if note is not None else ())]


def decision_table(report: Report) -> Table:
    """The options ranked: cost, delta to the chosen, fixed and usage cost, main driver,
    where each is chosen, and why one is not eligible."""
    comparison, decision = report.comparison, report.decision
    by_label = {t.label: t for t in comparison.topologies}
    cheapest = decision.chosen_verdict.cost if decision.chosen_verdict else None
    rows = []
    for rank, verdict in enumerate(decision.ranked, start=1):
        t = by_label[verdict.label]
        driver = main_driver(t) if verdict.cost is not None else None
        rows.append(
            (
                str(rank),
                verdict.label + (" (chosen)" if verdict.label == decision.chosen else ""),
                "eligible" if verdict.eligible else verdict.why_not,
                money(verdict.cost) if verdict.cost is not None else "cannot keep up",
                (
                    signed_money(verdict.cost - cheapest)
                    if verdict.cost is not None and cheapest is not None
                    else "n/a"
                ),
                money(t.idle.total),
                money(verdict.cost - t.idle.total) if verdict.cost is not None else "n/a",
                f"{driver[0]} {driver[1]:.0%}" if driver else "n/a",
                band_text(report, verdict.label),
            )
        )
    return Table(
        "Decision: the options ranked (cheapest that keeps up and meets the targets first)",
        (
            "rank",
            "option",
            "verdict",
            "per month",
            "vs chosen",
            "fixed (idle)",
            "usage",
            "main driver",
            "chosen at tasks/month",
        ),
        tuple(rows),
    )


def _reading_cells(found: Reading | None) -> tuple[str, str]:
    if found is None:
        return "n/a", "n/a"
    if found.cost is None:
        return "cannot keep up", "n/a"
    cost = money(found.cost) + (" (not eligible)" if found.not_eligible else "")
    p95 = (
        f"{seconds(found.worst_p95_seconds)} ({found.worst_task})"
        if found.worst_p95_seconds is not None
        else "n/a"
    )
    return cost, p95


def sizing_table(report: Report) -> Table | None:
    """Each option as sized for the workload (what the decision compares), beside the
    settings shipped; None when the templates were compared as synthesized."""
    rows = sized_rows(report)
    if not rows:
        return None
    return Table(
        f"Each option sized for the workload (what the decision compares), beside {SHIPPED}",
        (
            "option",
            "sized for the workload",
            "per month",
            "worst p95 wait",
            "settings shipped",
            "per month as shipped",
            "worst p95 wait as shipped",
        ),
        tuple(
            (
                row.label,
                row.sizing_text,
                *_reading_cells(row.sized),
                row.shipped_as or "n/a",
                *_reading_cells(row.shipped),
            )
            for row in rows
        ),
    )


def margin_table(report: Report) -> Table | None:
    """When cost does not decide: the ADR's grounds on which the contenders differ."""
    found = differences(report)
    if not found:
        return None
    labels = tuple(label for label, _ in found[0].values)
    return Table(
        f"Cost does not decide: where the ADR says {', '.join(labels)} differ",
        ("ground", *labels),
        tuple((d.ground, *(value for _, value in d.values)) for d in found),
    )


def summary_table(comparison: Comparison) -> Table:
    rows = []
    for t in comparison.topologies:
        lat = t.latency
        worst = lat.worst if lat else None
        rows.append(
            (
                t.label + ("" if t.complete else " (placeholder)"),
                _total(t),
                money(t.idle.total),
                f"{seconds(worst.wait_p95)} ({worst.task})" if worst else "n/a",
                seconds(worst.end_to_end[1]) if worst else "n/a",
                seconds(lat.worst_after_idle_seconds) if lat else "n/a",
                f"{lat.peak_units} {lat.unit_label}" if lat else "n/a",
            )
        )
    return Table(
        "Monthly cost over the baseline, and latency (worst task type's p95)",
        (
            "topology",
            "per month",
            "idle (0 tasks)",
            "p95 wait",
            "p95 end to end",
            "worst after idle",
            "peak",
        ),
        tuple(rows),
    )


def _three(p50: float, p95: float, top: float) -> str:
    return f"{seconds(p50)} / {seconds(p95)} / {seconds(top)}"


def task_latency_table(comparison: Comparison) -> Table:
    """Wait and end to end (wait + run) per task type and topology, with saturation."""
    rows = []
    for t in comparison.topologies:
        for task in t.latency.per_task if t.latency else ():
            e50, e95, emax = task.end_to_end
            sat = task.saturation
            rows.append(
                (
                    t.label,
                    task.task,
                    _three(task.wait_p50, task.wait_p95, task.wait_max),
                    _three(e50, e95, emax),
                    (f"{quantity(sat.saturates_at)}/month" if sat else "n/a")
                    + ("" if sat is None or sat.keeps_up else " (saturated)"),
                )
            )
    return Table(
        "Latency per task type (p50 / p95 / max)",
        ("topology", "task", "wait", "end to end", "saturates at"),
        tuple(rows),
    )


def baseline_table(comparison: Comparison) -> Table:
    rows = tuple(
        (item.service, f"{quantity(item.quantity)} {item.unit}", item.published, money(item.cost))
        for item in sorted(comparison.baseline.items, key=lambda i: -i.cost)
    )
    return Table(
        "Baseline: the web app as it runs today, in every topology (not in their totals)",
        ("service", "usage", "unit price", "cost"),
        (*rows, ("total", "", "", money(comparison.baseline.total))),
    )


def line_item_table(topology: TopologyReport) -> Table:
    if not topology.keeps_up:  # no cost is given for an option that cannot keep up
        return Table(f"{topology.label}: no cost ({topology.status})", ("service",), ())
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
        f"{topology.label}: line items over the baseline ({topology.status})",
        ("service", "usage", "unit price", "cost"),
        (*rows, ("total", "", "", _total(topology))),
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
    labels = tuple(
        dict.fromkeys(
            label for p in comparison.sweep.points for label in (*p.totals, *p.overloaded)
        )
    )
    points = tuple(
        (
            quantity(p.volume_per_month),
            *(
                (
                    money(p.totals[label])
                    + (" (misses a target)" if label in p.missing_targets else "")
                    if label in p.totals
                    else "cannot keep up"
                )
                for label in labels
            ),
            p.chosen or "none eligible",
        )
        for p in comparison.sweep.points
    )
    limits = tuple(
        (c.label, quantity(c.volume_per_month), c.task) for c in comparison.sweep.capacity_limits
    )
    crossings = tuple(
        (quantity(c.volume_per_month), c.from_label, c.to_label)
        for c in comparison.sweep.cross_overs
    )
    return [
        Table(
            "Cost against monthly volume, and the decision at each volume",
            ("tasks/month", *labels, "chosen"),
            points,
        ),
        Table(
            "Cost cross-overs (between options eligible on both sides)",
            ("about tasks/month", "chosen below", "chosen above"),
            crossings or (("none", "", ""),),
        ),
        Table(
            "Capacity limits (the workload's mix; past it the backlog grows)",
            ("topology", "cannot keep up above tasks/month", "first task type to saturate"),
            limits or (("none", "", ""),),
        ),
    ]


def flip_text(flip: Flip | None, base: float, unit: str) -> str:
    """A flip along volume: where the decision changes, to what and why."""
    if flip is None:
        return "none in range"
    becomes = flip.becomes or "no option"
    return (
        f"at about {sig(base * flip.factor)} {unit} (x{sig(flip.factor)}) it becomes "
        f"{becomes} ({flip.because})"
    )


def duration_flip_text(flip: Flip | None, longest: float) -> str:
    """A flip along every task's duration, told by the longest task's new duration."""
    if flip is None:
        return "none in range"
    return (
        f"at about x{sig(flip.factor)} (the longest task {seconds(longest * flip.factor)}) it "
        f"becomes {flip.becomes or 'no option'} ({flip.because})"
    )


def changes_table(report: Report) -> Table | None:
    """What would change the decision, one row per input searched (None: not searched)."""
    changes = report.changes
    if changes is None:
        return None
    w = report.comparison.workload
    longest = max(w.active_tasks, key=lambda t: t.duration_seconds).duration_seconds
    volume, duration, network = (changes.of(n) for n in ("volume", "duration", "network"))
    switched = network.higher
    return Table(
        "What would change the decision (one input at a time)",
        ("input", "searched", "lower", "higher"),
        (
            (
                "volume",
                volume.searched,
                flip_text(volume.lower, w.volume_per_month, "tasks/month"),
                flip_text(volume.higher, w.volume_per_month, "tasks/month"),
            ),
            (
                "durations",
                duration.searched,
                duration_flip_text(duration.lower, longest),
                duration_flip_text(duration.higher, longest),
            ),
            (
                "network",
                network.searched,
                "",
                "none: the same decision"
                if switched is None
                else f"{switched.becomes or 'no option'} ({switched.because})",
            ),
        ),
    )


def decision_tables(report: Report) -> list[Table]:
    """The tables of the decision block, after the ranking: where the contenders differ
    when cost does not decide, and each option's sizing beside the settings shipped."""
    return [t for t in (margin_table(report), sizing_table(report)) if t is not None]


def all_tables(report: Report) -> list[Table]:
    comparison = report.comparison
    changes = changes_table(report)
    return [
        *decision_tables(report),
        summary_table(comparison),
        *((changes,) if changes is not None else ()),
        task_latency_table(comparison),
        baseline_table(comparison),
        *(line_item_table(t) for t in comparison.topologies),
        qualities_table(comparison),
        *sweep_tables(comparison),
    ]


def footnotes(report: Report) -> list[str]:
    comparison = report.comparison
    web = comparison.workload.webapp
    notes = [
        f"Region {comparison.region}; on-demand prices dated {', '.join(comparison.price_dates)}; "
        f"free tier {'on' if comparison.free_tier else 'off'}.",
        f"Workload: {comparison.workload.volume_per_month:,.0f} tasks/month.",
        f"Every total is the increment over the baseline (the web app's {web.tasks} x "
        f"{web.vcpu:g} vCPU / {web.memory_gib:g} GB tasks with its network; its table above).",
        f"Network: {comparison.network.value}. "
        + (
            "Task compute runs in the web app's VPC; only the data it adds to the NAT "
            "gateway or endpoints is charged."
            if comparison.network.value == "shared"
            else "Each option with its own in-VPC compute brings its own NAT gateway or "
            "endpoints, charged in full."
        ),
    ]
    cheapest = report.cheapest_by_cost
    if cheapest and cheapest != report.decision.chosen:
        notes.append(
            f"Cheapest by cost alone, ignoring the latency targets: {cheapest} (not chosen: "
            f"{report.decision.verdict(cheapest).why_not})."
        )
    notes.extend(f"{t.label}: {t.status}" for t in comparison.topologies if not t.keeps_up)
    notes.extend(
        f"{t.label}: about {t.latency.refused:,.0f} requests a month find every web worker "
        "busy and are answered 503; their callers retry (counted in the waits)."
        for t in comparison.topologies
        if t.latency is not None and t.latency.refused >= 1
    )
    notes.extend(f"{t.label}: {t.status}" for t in comparison.topologies if not t.complete)
    if comparison.sweep is not None and comparison.sweep.not_simulated:
        volumes = ", ".join(sig(v) for v in comparison.sweep.not_simulated)
        notes.append(
            f"The sweep leaves out {volumes} tasks/month: their simulated period would hold "
            "more arrivals than it runs in seconds."
        )
    return notes
