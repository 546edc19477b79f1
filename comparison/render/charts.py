"""The HTML report's charts as inline SVG: cost against volume, cost breakdown, latency.

Every label is placed so that no two overlap and none leaves its chart: text widths are
estimated generously (:func:`text_width`) and labels are moved to free rows or nudged
apart. Colours are Okabe-Ito (colour-blind safe); services past the eighth get the same
colours with a white hatch, so no two share a fill.
"""

from __future__ import annotations

import math

from comparison.cost.estimate import Comparison
from comparison.decide.decision import Decision
from comparison.render.svg import PALETTE, LogAxis, Svg, si, sig
from comparison.render.tables import money, seconds

_W = 820.0
_TOP = 30.0


def text_width(text: str, size: float) -> float:
    """A generous estimate of rendered width (system-ui averages about 0.55 em)."""
    return len(text) * size * 0.62 + 2


def topology_colours(comparison: Comparison) -> dict[str, str]:
    return {t.label: PALETTE[i % len(PALETTE)] for i, t in enumerate(comparison.topologies)}


def _fill(index: int, chart: str) -> tuple[str, str]:
    """(fill attribute, pattern definition or '') for the index-th series."""
    base = PALETTE[index % len(PALETTE)]
    if index < len(PALETTE):
        return base, ""
    pattern = f"hatch-{chart}-{index}"
    return f"url(#{pattern})", (
        f'<pattern id="{pattern}" patternUnits="userSpaceOnUse" width="6" height="6" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{base}"/>'
        '<rect width="2" height="6" fill="#ffffff"/></pattern>'
    )


def _dark(colour: str) -> bool:
    if not colour.startswith("#"):
        return True
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b < 140


def _flow_legend(
    svg: Svg, items: list[tuple[str, str]], left: float, top: float, width: float
) -> float:
    """Swatch and full label per item, flowed into rows; returns the height used."""
    x, y = left, top
    for label, fill in items:
        needed = 18 + text_width(label, 12) + 14
        if x + needed > left + width and x > left:
            x, y = left, y + 20
        svg.rect(x, y, 12, 12, fill, stroke="#333", stroke_width="0.5", class_="swatch")
        svg.text(x + 17, y + 10.5, label, size=12, class_="label")
        x += needed
    return y - top + 20


def _nice_step(largest: float, ticks: int = 5) -> float:
    raw = largest / ticks
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for step in (1, 2, 2.5, 5, 10):
        if raw <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


# -- cost against volume ----------------------------------------------------------------


def cost_volume_chart(comparison: Comparison) -> str:
    """Monthly cost against volume, log-log: a line per option that keeps up, labelled at
    its end; capacity limits as shaded bands above the plot; cost cross-overs as dashed
    lines labelled below it."""
    sweep = comparison.sweep
    if sweep is None or not sweep.points:
        return "<p>No sweep: no complete topology to compare.</p>"
    colours = topology_colours(comparison)
    labels = [t.label for t in comparison.topologies if t.label in colours]
    limits = {c.label: c for c in sweep.capacity_limits}
    band_rows = [label for label in labels if label in limits]
    left, right = 64.0, 14 + max((text_width(label, 11) for label in labels), default=60) + 10
    band_top = _TOP
    plot_top = band_top + 16 * len(band_rows) + 10
    plot_h = 260.0
    plot_bottom = plot_top + plot_h
    volumes = [p.volume_per_month for p in sweep.points]
    costs = [c for p in sweep.points for c in p.totals.values()] or [1.0]
    x = LogAxis.covering(volumes, left, _W - right)
    y = LogAxis.covering(costs, plot_bottom, plot_top)
    # Cross-over and "this workload" labels below the axis, each in the first free row.
    marks: list[tuple[float, str, str]] = [
        (c.volume_per_month, f"{sig(c.volume_per_month)}: {c.to_label} cheaper", "crossover")
        for c in sweep.cross_overs
    ]
    current = comparison.workload.volume_per_month
    if x.low <= current <= x.high:
        marks.append((current, f"this workload: {sig(current)}", "current"))
    rows: list[list[tuple[float, float]]] = []
    placed: list[tuple[float, float, str, str, int]] = []
    for volume, text, kind in sorted(marks):
        width = text_width(text, 11)
        start = min(max(x(volume) - width / 2, 2.0), _W - width - 2)
        row = next(
            (
                i
                for i, used in enumerate(rows)
                if all(start > b + 6 or start + width < a - 6 for a, b in used)
            ),
            None,
        )
        if row is None:
            rows.append([])
            row = len(rows) - 1
        rows[row].append((start, start + width))
        placed.append((volume, start, text, kind, row))
    marks_top = plot_bottom + 42
    height = marks_top + 16 * len(rows) + 24
    svg = Svg(_W, height, "Monthly cost against monthly task volume")
    svg.text(
        4,
        14,
        "USD per month over the baseline (log) against tasks per month (log)",
        size=12,
        class_="label",
    )
    # Capacity limits: a shaded band per option, from its limit to the right edge.
    for row, label in enumerate(band_rows):
        limit = limits[label]
        top = band_top + 16 * row
        start = x(limit.volume_per_month)
        svg.rect(
            start, top, _W - right - start, 12, colours[label], opacity="0.3", class_="capacity"
        )
        text = f"{label} cannot keep up above {sig(limit.volume_per_month)}"
        width = text_width(text, 10)
        text_x = start - 4 if start - 4 - width >= 2 else None
        if text_x is not None:
            svg.text(text_x, top + 9.5, text, size=10, anchor="end", class_="label")
        else:
            svg.text(start + 4, top + 9.5, text, size=10, class_="label")
    for tick in x.decades():
        svg.line(x(tick), plot_top, x(tick), plot_bottom, "#e5e5e5")
        svg.text(x(tick), plot_bottom + 21, si(tick), size=11, anchor="middle", class_="label")
    for tick in y.decades():
        svg.line(left, y(tick), _W - right, y(tick), "#e5e5e5")
        svg.text(left - 8, y(tick) + 4, f"${si(tick)}", size=11, anchor="end", class_="label")
    svg.line(left, plot_bottom, _W - right, plot_bottom, "#666")
    svg.text(
        (left + _W - right) / 2,
        plot_bottom + 37,
        "tasks per month",
        size=11,
        anchor="middle",
        class_="label",
    )
    ends: list[tuple[float, str, str]] = []
    for label in labels:
        points = [
            (x(p.volume_per_month), y(p.totals[label])) for p in sweep.points if label in p.totals
        ]
        if not points:
            continue
        svg.polyline(points, colours[label], class_="series")
        for point in points:
            svg.circle(*point, 3, colours[label])
        ends.append((points[-1][1], label, f"{points[-1][0]:.1f}"))
    # Direct labels in the right margin, in the order of the lines' ends, nudged apart.
    ends.sort()
    label_y: list[float] = []
    for end_y, _, _ in ends:
        wanted = min(max(end_y + 4, plot_top + 10), plot_bottom - 4)
        label_y.append(max(wanted, label_y[-1] + 15) if label_y else wanted)
    overflow = (label_y[-1] - plot_bottom + 4) if label_y else 0
    if overflow > 0:
        label_y = [v - overflow for v in label_y]
    for (end_y, label, end_x), text_y in zip(ends, label_y, strict=True):
        svg.line(
            float(end_x) + 4,
            end_y,
            _W - right + 8,
            text_y - 4,
            colours[label],
            stroke_dasharray="2 2",
        )
        svg.text(_W - right + 10, text_y, label, size=11, fill="#222", class_="label")
    for volume, start, text, kind, row in placed:
        at = x(volume)
        dash = "4 3" if kind == "crossover" else "1 3"
        svg.line(at, plot_top, at, plot_bottom, "#333", stroke_dasharray=dash, class_=kind)
        svg.text(start, marks_top + 16 * row + 11, text, size=11, class_="label")
    return svg.render()


# -- where the money goes --------------------------------------------------------------


def breakdown_chart(comparison: Comparison) -> str:
    """A stacked bar per option that keeps up: its monthly cost by service, with a $ axis,
    shares on the segments wide enough for them and a full legend."""
    keeping = [t for t in comparison.topologies if t.keeps_up]
    dropped = [t for t in comparison.topologies if not t.keeps_up]
    services = sorted({s for t in keeping for s in t.cost.by_service()})
    fills = {s: _fill(i, "breakdown") for i, s in enumerate(services)}
    largest = max((t.cost.total for t in keeping), default=0.0) or 1.0
    row = 34.0
    left = 14 + max((text_width(t.label, 12) for t in comparison.topologies), default=60)
    right = 80.0
    plot_w = _W - left - right
    scale = plot_w / largest
    step = _nice_step(largest)
    ticks = [step * i for i in range(int(largest / step) + 2) if step * i <= largest * 1.0001]
    rows_h = row * (len(keeping) + len(dropped))
    axis_y = _TOP + rows_h + 4
    legend_top = axis_y + 36
    svg = Svg(_W, legend_top, "Monthly cost per option, by service")
    svg.raw("<defs>" + "".join(p for _, p in fills.values() if p) + "</defs>")
    svg.text(4, 14, "USD per month over the baseline, by service", size=12, class_="label")
    for tick in ticks:
        svg.line(left + tick * scale, _TOP - 4, left + tick * scale, axis_y, "#e5e5e5")
        svg.text(
            left + tick * scale,
            axis_y + 15,
            f"${tick:,.0f}",
            size=11,
            anchor="middle",
            class_="label",
        )
    svg.line(left, axis_y, left + plot_w, axis_y, "#666")
    for index, topology in enumerate(keeping):
        top = _TOP + index * row
        svg.text(left - 8, top + 17, topology.label, anchor="end", class_="label")
        offset = left
        by_service = topology.cost.by_service()
        for service in services:
            cost = by_service.get(service, 0.0)
            if cost <= 0:
                continue
            width = cost * scale
            fill, _ = fills[service]
            svg.rect(offset, top + 4, width, row - 10, fill, class_="bar")
            share = f"{cost / topology.cost.total:.0%}"
            if width >= text_width(share, 10) + 6:
                colour = "#fff" if _dark(fill) and not fill.startswith("url") else "#000"
                svg.text(
                    offset + width / 2,
                    top + 21,
                    share,
                    size=10,
                    anchor="middle",
                    fill=colour,
                    class_="label",
                )
            offset += width
        svg.text(offset + 6, top + 17, money(topology.cost.total), size=11, class_="label")
    for index, topology in enumerate(dropped, start=len(keeping)):
        top = _TOP + index * row
        svg.text(left - 8, top + 17, topology.label, anchor="end", class_="label")
        svg.text(
            left + 4, top + 17, "cannot keep up: no cost", size=11, fill="#a00", class_="label"
        )
    _flow_legend(svg, [(s, fills[s][0]) for s in services], 4, legend_top, _W - 8)
    # The legend may need more rows than reserved: grow the chart to fit it.
    used = _legend_rows(services, _W - 8)
    svg.height = legend_top + 20 * used + 8
    return svg.render()


def _legend_rows(labels: list[str], width: float) -> int:
    x, rows = 0.0, 1
    for label in labels:
        needed = 18 + text_width(label, 12) + 14
        if x + needed > width and x > 0:
            x, rows = 0.0, rows + 1
        x += needed
    return rows if labels else 0


# -- latency per task type ---------------------------------------------------------------


_TIME_TICKS = (
    (1.0, "1 s"),
    (10.0, "10 s"),
    (60.0, "1 min"),
    (600.0, "10 min"),
    (3600.0, "1 h"),
    (36_000.0, "10 h"),
    (86_400.0 * 4, "4 days"),
)


def latency_chart(comparison: Comparison, decision: Decision) -> str:
    """Per task type, each option's p95 wait (log seconds), with the task's max_wait."""
    simulated = [t for t in comparison.topologies if t.latency is not None and t.latency.per_task]
    if not simulated:
        return "<p>No topology has a consumer to simulate yet.</p>"
    colours = topology_colours(comparison)
    tasks = [t for t in comparison.workload.active_tasks]
    waits = {
        (topology.label, task.task): task
        for topology in simulated
        for task in topology.latency.per_task  # type: ignore[union-attr]
    }
    values = [w.wait_p95 for w in waits.values()] + [
        t.max_wait_seconds for t in tasks if t.max_wait_seconds
    ]
    left = 14 + max(text_width(t.label, 11) for t in simulated)
    right = 96.0
    axis = LogAxis.covering([max(v, 1.0) for v in values] + [1.0], left, _W - right)
    bar, gap = 14.0, 26.0
    group = len(simulated) * (bar + 3) + gap
    plot_top = _TOP + 10
    height = plot_top + group * len(tasks) + 40
    svg = Svg(_W, height, "p95 wait (enqueue to start) per task type and option")
    svg.text(
        4,
        14,
        "p95 wait, enqueue to start of work (log seconds); dashed: max_wait",
        size=12,
        class_="label",
    )
    bottom = plot_top + group * len(tasks)
    for tick, name in _TIME_TICKS:
        if axis.low <= tick <= axis.high:
            svg.line(axis(tick), plot_top, axis(tick), bottom, "#e5e5e5")
            svg.text(axis(tick), bottom + 15, name, size=11, anchor="middle", class_="label")
    for g, task in enumerate(tasks):
        top = plot_top + g * group
        svg.text(
            4,
            top + 8,
            f"{task.name} ({seconds(task.duration_seconds)} a run)",
            size=12,
            font_weight="600",
            class_="label",
        )
        for i, topology in enumerate(simulated):
            y = top + 14 + i * (bar + 3)
            svg.text(left - 6, y + 11, topology.label, size=11, anchor="end", class_="label")
            found = waits.get((topology.label, task.name))
            if found is None:
                svg.text(left + 4, y + 11, "not run", size=10, fill="#666", class_="label")
                continue
            end = axis(max(found.wait_p95, 1.0))
            svg.rect(left, y, end - left, bar, colours[topology.label], class_="bar")
            verdict = decision.verdict(topology.label)
            missed = any(m.task == task.name for m in verdict.misses)
            svg.text(
                end + 4,
                y + 11,
                seconds(found.wait_p95) + (" over" if missed else ""),
                size=10,
                class_="label",
            )
        if task.max_wait_seconds:
            at = axis(task.max_wait_seconds)
            svg.line(
                at,
                top + 12,
                at,
                top + group - gap + 12,
                "#a00",
                stroke_dasharray="3 2",
                class_="target",
            )
    return svg.render()
