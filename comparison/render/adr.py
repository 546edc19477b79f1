"""ADR-0033 regenerated for a workload (``--format adr``).

The seed's structure (Context and Problem Statement, Considered Options, Decision
Outcome, Pros and Cons of the Options) and every one of its pros and cons are kept,
verbatim; each pro and con is followed by the number that measures it for this
workload, and the Decision Outcome is the model's: the cheapest option that keeps up and
meets the workload's latency targets, why, and what would change it. Every number comes
from the comparison; nothing depends on the clock, so the same inputs give the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from comparison.cost.estimate import Comparison, TopologyReport
from comparison.decide.decision import (
    Decision,
    in_flight,
    main_driver,
    over_fifteen_minutes,
    web_app_cpu_seconds_per_day,
)
from comparison.decide.sweep import capacity_limit
from comparison.model.routing import ConsumerKind
from comparison.render.adr_seed import Seed, SeedOption, parse_seed
from comparison.render.sizing_rows import (
    SHIPPED,
    Reading,
    chosen_sizing,
    differences,
    margin_sentence,
    sized_rows,
)
from comparison.render.svg import sig
from comparison.render.tables import duration_flip_text, flip_text, money, seconds
from runtime.contract.topology import TOPOLOGIES

if TYPE_CHECKING:
    from comparison.build import Report

# The seed's options, by the kind of consumer each topology is built around: the
# contract names each topology's ADR option in the seed's words.
OPTION_KIND = {topology.adr_option: topology.kind for topology in TOPOLOGIES}

# What measures each of the seed's pros and cons, in the seed's order.
MEASURES: dict[ConsumerKind, tuple[str, ...]] = {
    ConsumerKind.ENDPOINT: ("wake", "code", "scaling", "trigger", "loss", "idle"),
    ConsumerKind.WORKER: (
        "code",
        "wake",
        "idle",
        "loss",
        "trigger",
        "web_load",
        "code",
        "scaling",
    ),
    ConsumerKind.LAMBDA: ("scaling", "idle", "wake", "retries", "trigger", "code", "fifteen"),
    ConsumerKind.WEBAPP: (
        "code",
        "wake",
        "loss",
        "trigger",
        "scaling",
        "web_load",
        "web_load",
        "code",
    ),
}


def _per_month(topology: TopologyReport) -> str:
    return (
        f"{money(topology.cost.total)}/month over the baseline"
        if topology.keeps_up
        else "no cost: it cannot keep up with this volume"
    )


class _Measures:
    """The numbers the ADR quotes, for one topology under the comparison's workload."""

    def __init__(self, comparison: Comparison, topology: TopologyReport) -> None:
        self.comparison = comparison
        self.t = topology
        self.workload = comparison.workload

    def cost(self) -> str:
        return f"cost {_per_month(self.t)}, {money(self.t.idle.total)}/month while idle"

    def idle(self) -> str:
        used = money(self.t.cost.total) if self.t.keeps_up else "no cost (cannot keep up)"
        return (
            f"billed while idle: {money(self.t.idle.total)}/month (with 0 tasks), "
            f"against {used} at this workload"
        )

    def driver(self) -> str:
        found = main_driver(self.t) if self.t.keeps_up else None
        if found is None:
            return "main cost driver: none (no cost)"
        service, share = found
        return f"main cost driver: {service}, {share:.0%} of its cost"

    def p95(self) -> str:
        worst = self.t.latency.worst if self.t.latency else None
        if worst is None:
            return "worst task type's p95 wait: not simulated"
        return (
            f"worst task type's p95 wait: {seconds(worst.wait_p95)} ({worst.task}), "
            f"{seconds(worst.end_to_end[1])} end to end"
        )

    def wake(self) -> str:
        lat = self.t.latency
        if lat is None:
            return "wake from idle: not simulated"
        after_idle = seconds(lat.worst_after_idle_seconds)
        return f"wake from idle (first task after an hour idle): {after_idle}; {self.p95()}"

    def loss(self) -> str:
        q = self.t.qualities
        running = in_flight(self.t, self.workload)
        lost = q.loss_on_restart if q else "unknown"
        return f"lost on restart: {lost}; {running:.2g} runs are in flight at an average moment"

    def retries(self) -> str:
        q = self.t.qualities
        dlqs = len(self.t.model.dead_letter_queues)
        return (
            f"retries: {q.retries if q else 'unknown'}; {dlqs} dead-letter queues in the template"
        )

    def trigger(self) -> str:
        triggers = [t for t in self.t.model.triggers if t.task is not None]
        schedules = sum(1 for t in triggers if t.is_schedule)
        runs = sum(t.runs_per_month or 0.0 for t in triggers)
        return (
            f"triggers in the template: {schedules} schedules ({runs:,.0f} runs/month) and "
            f"{len(triggers) - schedules} event rule targets; the rest arrive on demand"
        )

    def code(self) -> str:
        q = self.t.qualities
        return f"code changes: {q.code_changes if q else 'unknown'}"

    def scaling(self) -> str:
        lat = self.t.latency
        if lat is None:
            return "scaling: not simulated"
        peak = f"peak {lat.peak_units} {lat.unit_label}"
        if not lat.scaling:
            caps = sorted({s.slots for s in lat.saturations})
            return f"scaling: none to write; {peak}; concurrency caps {', '.join(map(str, caps))}"
        rules = "; ".join(
            f"{p.min_capacity}..{p.max_capacity} tasks, {p.metric.value} target {p.target:g}"
            for _, p in sorted(lat.scaling.items())
        )
        cloudwatch = self.t.cost.by_service().get("CloudWatch", 0.0) if self.t.keeps_up else 0.0
        return f"scaling: {rules}; {peak}; CloudWatch metrics and alarms {money(cloudwatch)}/month"

    def web_load(self) -> str:
        cpu = web_app_cpu_seconds_per_day(self.t, self.workload)
        web = self.workload.webapp
        capacity = web.tasks * web.vcpu * 86_400
        return (
            f"load on the web app: {cpu:,.0f} CPU-seconds a day "
            f"({cpu / capacity:.1%} of its {web.tasks} x {web.vcpu:g} vCPU)"
        )

    def fifteen(self) -> str:
        over, at = over_fifteen_minutes(self.workload)
        longest = max(self.workload.active_tasks, key=lambda t: t.duration_seconds)
        text = f"catalogue tasks over 15 minutes: {', '.join(over) if over else 'none'}"
        if at:
            text += f" ({', '.join(at)} may run exactly 15 minutes)"
        return (
            text
            + f"; longest in this workload: {longest.name}, {seconds(longest.duration_seconds)}"
        )

    def get(self, name: str) -> str:
        method: Callable[[], str] = getattr(self, name)
        return method()


def _context(comparison: Comparison, seed: Seed) -> str:
    w = comparison.workload
    rows = "\n".join(
        f"| {t.name} | {t.volume_per_month:,.0f} | {seconds(t.duration_seconds)} | "
        f"{t.pattern_label} | {seconds(t.max_wait_seconds) if t.max_wait_seconds else '-'} |"
        for t in w.active_tasks
    )
    return (
        f"{seed.context}\n\n"
        f"This version is generated by `python -m comparison --format adr` from the synthesized "
        f"templates and a workload of {w.volume_per_month:,.0f} tasks a month in "
        f"{comparison.region} (on-demand prices dated {', '.join(comparison.price_dates)}; "
        f"free tier {'on' if comparison.free_tier else 'off'}). Every cost is the increment "
        f"over the baseline, the web app as it runs today with its network "
        f"({money(comparison.baseline.total)}/month), which every option keeps. Network: "
        f"{comparison.network.value}.\n\n"
        "| task | per month | duration | arrivals | max_wait (p95) |\n"
        "|---|---|---|---|---|\n" + rows
    )


def _considered(comparison: Comparison, seed: Seed, decision: Decision) -> str:
    by_kind = {t.kind: t for t in comparison.topologies}
    lines = []
    for title in seed.considered:
        t = by_kind.get(OPTION_KIND.get(title))
        if t is None:
            lines.append(f"* {title}")
            continue
        verdict = decision.verdict(t.label)
        said = verdict.eligible or (not verdict.keeps_up and verdict.cannot_meet is None)
        note = "" if said else f"; {verdict.why_not}"
        lines.append(f"* {title} (`{t.label}`): {_per_month(t)}{note}")
    return "\n".join(lines)


def revisit_lines(report: Report) -> list[str]:
    """What would change the decision, a line per input searched ('' lines: not searched)."""
    comparison, changes = report.comparison, report.changes
    if changes is None:
        return ["* Not searched: ask for it with a format that shows it (table, html, adr, json)."]
    w = comparison.workload
    volume, duration, network = (changes.of(n) for n in ("volume", "duration", "network"))
    longest = max(w.active_tasks, key=lambda t: t.duration_seconds)
    lines = [
        f"* Volume (searched {volume.searched}): below, "
        f"{flip_text(volume.lower, w.volume_per_month, 'tasks/month')}; above, "
        f"{flip_text(volume.higher, w.volume_per_month, 'tasks/month')}.",
        f"* Task durations (searched {duration.searched}; {longest.name} is "
        f"{seconds(longest.duration_seconds)} today): shorter, "
        f"{duration_flip_text(duration.lower, longest.duration_seconds)}; longer, "
        f"{duration_flip_text(duration.higher, longest.duration_seconds)}.",
    ]
    if changes.current != report.decision.chosen:
        lines.append(
            "* (The search simulates one day in 30 s steps; at today's workload it chooses "
            f"{changes.current or 'no option'}, so its flips are relative to that choice.)"
        )
    flip = network.higher
    lines.append(
        f"* Network (searched {network.searched}): "
        + (
            "none: the recommendation is the same."
            if flip is None
            else f"it becomes {flip.becomes or 'no option'} ({flip.because})."
        )
    )
    return lines


def _reading(found: Reading | None) -> str:
    if found is None:
        return "not compared"
    if found.cost is None:
        return "cannot keep up"
    wait = (
        f", the worst p95 wait {seconds(found.worst_p95_seconds)} for {found.worst_task}"
        if found.worst_p95_seconds is not None
        else ""
    )
    return f"{money(found.cost)}/month{wait}" + (
        f"; not eligible: {found.not_eligible}" if found.not_eligible else ""
    )


def sizing_lines(report: Report) -> list[str]:
    """Each option's sizing for this workload beside the settings shipped ([] when the
    templates were compared as synthesized)."""
    rows = sized_rows(report)
    if not rows:
        return []
    lines = [
        "### Sizing",
        "",
        "Each option was sized for this workload before it was compared: the cheapest "
        "sizing that keeps up and meets every max_wait within AWS's limits (docs/comparison.md)."
        f" The costs above are at that sizing; {SHIPPED} follow each.",
        "",
    ]
    for row in rows:
        sized = (
            f"cannot meet: {row.cannot_meet}"
            if row.cannot_meet is not None
            else f"{row.sized_as} ({_reading(row.sized)})"
        )
        shipped = f"{row.shipped_as or 'n/a'} ({_reading(row.shipped)})"
        lines.append(f"* {row.label}: {sized}. Shipped as: {shipped}.")
    return lines


def deploy_lines(report: Report) -> list[str]:
    """The chosen option's sizing and the command that deploys it, or that none is chosen."""
    chosen = report.decision.chosen
    if chosen is None:
        return ["No option is chosen, so there is no sizing to deploy."]
    sizing = chosen_sizing(report)
    command = f"`{report.deploy_command(chosen)}`"
    if sizing is None:
        return [f"Deploy it as synthesized with {command}."]
    return [
        f"Deploy it sized for this workload ({sizing}) with {command}; "
        f"`python -m comparison --sizing-dir {report.sizing_dir}` writes the sizing file."
    ]


def margin_lines(report: Report) -> list[str]:
    """Whether cost decides and, when it does not, where the contenders differ."""
    sentence = margin_sentence(report)
    if sentence is None:
        return []
    return [
        sentence,
        *(
            f"* {d.ground}: " + "; ".join(f"{label}: {value}" for label, value in d.values) + "."
            for d in differences(report)
        ),
    ]


def _paragraphs(*groups: list[str]) -> list[str]:
    """The non-empty groups, a blank line between them."""
    lines: list[str] = []
    for group in (g for g in groups if g):
        lines += [*([""] if lines else []), *group]
    return lines


def decision_outcome(report: Report) -> str:
    """The Decision Outcome section's text (without its heading)."""
    comparison, decision = report.comparison, report.decision
    titles = {kind: title for title, kind in OPTION_KIND.items()}
    by_label = {t.label: t for t in comparison.topologies}
    w = comparison.workload
    targets = (
        "the latency targets ("
        + "; ".join(f"{task} p95 wait at most {seconds(s)}" for task, s in decision.targets)
        + ")"
        if decision.targets
        else "every latency target (the workload states no max_wait, so any wait is accepted)"
    )
    chosen = decision.chosen_verdict
    if chosen is None:
        head = (
            f"No option keeps up with {w.volume_per_month:,.0f} tasks a month and meets "
            f"{targets}. Revisit the workload's max_wait or the options' capacity."
        )
        coping = [v for v in decision.ranked if v.keeps_up and v.complete and v.cost is not None]
        if coping:
            best = min(coping, key=lambda v: (v.cost or 0.0, v.label))
            head += (
                f" Of the options that keep up, the cheapest is {best.label} "
                f"({money(best.cost or 0.0)} a month over the baseline)."
            )
        reasons = [f"* {v.label}: {v.why_not}." for v in decision.ranked]
        return "\n".join(
            _paragraphs(
                [head],
                deploy_lines(report),
                reasons,
                sizing_lines(report),
                ["### When to revisit", "", *revisit_lines(report)],
            )
        )
    t = by_label[chosen.label]
    title = titles.get(t.kind) if t.kind else None
    name = f'"{title}" (`{t.label}`)' if title else f"`{t.label}`"
    head = (
        f"Chosen option: {name}, because it is the cheapest of the options that keep up with "
        f"{w.volume_per_month:,.0f} tasks a month and meet {targets}: "
        f"{money(t.cost.total)} a month over the baseline, {money(t.idle.total)} of it billed "
        "while idle."
    )
    m = _Measures(comparison, t)
    reasons = []
    limit = (
        capacity_limit(t.label, t.latency, w.volume_per_month) if t.latency is not None else None
    )
    if limit is not None:
        reasons.append(
            f"* It keeps up: it would stop keeping up at about {sig(limit.volume_per_month)} "
            f"tasks a month ({limit.task} saturates first), "
            f"x{sig(limit.volume_per_month / w.volume_per_month)} today's volume."
        )
    reasons.append(f"* Its {m.p95()}; wake from idle {m.wake().split(': ')[1].split(';')[0]}.")
    reasons.append(
        f"* Its {m.driver()}; fixed (idle) {money(t.idle.total)}, "
        f"usage {money(t.cost.total - t.idle.total)}."
    )
    q = t.qualities
    if q is not None:
        reasons.append(
            f"* Retries: {q.retries}; lost on restart: {q.loss_on_restart}; {m.web_load()}."
        )
    for verdict in decision.ranked:
        if verdict.label == t.label:
            continue
        if verdict.eligible and verdict.cost is not None:
            why = f"costs {money(verdict.cost - t.cost.total)} a month more ({money(verdict.cost)})"
        else:
            why = verdict.why_not
        reasons.append(f"* Not {verdict.label}: {why}.")
    return "\n".join(
        _paragraphs(
            [head],
            deploy_lines(report),
            margin_lines(report),
            reasons,
            sizing_lines(report),
            ["### When to revisit", "", *revisit_lines(report)],
        )
    )


def _option(comparison: Comparison, option: SeedOption) -> str:
    kind = OPTION_KIND.get(option.title)
    topology = next((t for t in comparison.topologies if t.kind is kind), None)
    lines = [f"### {option.title}", "", option.description, ""]
    if topology is None or kind is None:
        lines += [f"* {bullet}" for bullet in option.bullets]
        return "\n".join(lines)
    m = _Measures(comparison, topology)
    lines += [
        f"Measured for this workload (`{topology.label}`, stack {topology.stack_id}): "
        f"{m.cost()}; {m.driver()}; {m.p95()}; {m.wake().split(';')[0]}; "
        f"{m.loss()}; {m.fifteen()}; {m.web_load()}.",
        "",
    ]
    for bullet, measure in zip(option.bullets, MEASURES[kind], strict=True):
        lines.append(f"* {bullet} *Measured: {m.get(measure)}.*")
    return "\n".join(lines)


def render_adr(report: Report) -> str:
    seed = parse_seed()
    comparison, decision = report.comparison, report.decision
    sections = [
        f"# {seed.title}",
        "## Status",
        "PROPOSED: regenerated by the cost and latency model for the workload below; "
        "review it before accepting.\n\nDate of decision: TBC",
        "## Context and Problem Statement",
        _context(comparison, seed),
        "## Considered Options",
        _considered(comparison, seed, decision),
        "## Decision Outcome",
        decision_outcome(report),
        "## Pros and Cons of the Options",
        "\n\n".join(_option(comparison, option) for option in seed.options),
        "## More Information",
        seed.more_information
        + "\n\nThe model, its assumptions and prices: docs/comparison.md. The first draft's "
        f"outcome was: {seed.decision}",
    ]
    return "\n\n".join(sections) + "\n"
