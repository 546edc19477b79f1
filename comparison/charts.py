"""The HTML report's charts as inline SVG: cost against volume, cost breakdown, latency."""

from __future__ import annotations

from comparison.report import Comparison
from comparison.report_tables import money, seconds
from comparison.svg import LogAxis, Svg, colour, si

_W, _H = 820.0, 380.0
_LEFT, _RIGHT, _TOP, _BOTTOM = 70.0, 200.0, 30.0, 50.0


def _legend(svg: Svg, labels: list[str], x: float, y: float) -> None:
    for index, label in enumerate(labels):
        svg.rect(x, y + index * 20 - 10, 12, 12, colour(index))
        svg.text(x + 18, y + index * 20, _short(label), size=12)


def _short(label: str, limit: int = 22) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _label_width(labels: list[str]) -> float:
    """Room for the longest row label at about 7 px a character."""
    return 20.0 + 7.0 * max((len(_short(label)) for label in labels), default=8)


def cost_volume_chart(comparison: Comparison) -> str:
    """Monthly cost against monthly volume, log-log, one line per topology, cross-overs marked."""
    sweep = comparison.sweep
    if sweep is None or not sweep.points:
        return "<p>No sweep: no complete topology to compare.</p>"
    labels = list(
        dict.fromkeys(label for p in sweep.points for label in (*p.totals, *p.overloaded))
    )
    volumes = [p.volume_per_month for p in sweep.points]
    costs = [c for p in sweep.points for c in p.totals.values()] or [1.0]
    x = LogAxis.covering(volumes, _LEFT, _W - _RIGHT)
    y = LogAxis.covering(costs, _H - _BOTTOM, _TOP)
    svg = Svg(_W, _H, "Monthly cost against monthly task volume")
    for tick in x.decades():
        svg.line(x(tick), _TOP, x(tick), _H - _BOTTOM, "#e5e5e5")
        svg.text(x(tick), _H - _BOTTOM + 16, si(tick), size=11, anchor="middle")
    for tick in y.decades():
        svg.line(_LEFT, y(tick), _W - _RIGHT, y(tick), "#e5e5e5")
        svg.text(_LEFT - 6, y(tick) + 4, f"${si(tick)}", size=11, anchor="end")
    svg.text((_LEFT + _W - _RIGHT) / 2, _H - 10, "tasks per month (log)", anchor="middle")
    svg.text(14, _TOP - 12, "USD per month (log)", size=11)
    for index, label in enumerate(labels):
        # An option has a cost only where it keeps up: its line ends where it saturates,
        # and a hollow mark at the top stands for "cannot keep up".
        points = [
            (x(p.volume_per_month), y(p.totals[label])) for p in sweep.points if label in p.totals
        ]
        if points:
            svg.polyline(points, colour(index), class_="series")
        for point in points:
            svg.circle(*point, 3.5, colour(index), stroke=colour(index))
        for sample in sweep.points:
            if label in sample.overloaded:
                top = _TOP + 4 + 6 * index
                svg.circle(x(sample.volume_per_month), top, 3.5, "white", stroke=colour(index))
    for index, crossing in enumerate(sweep.cross_overs):
        at = x(crossing.volume_per_month)
        svg.line(at, _TOP, at, _H - _BOTTOM, "#333", stroke_dasharray="4 3", class_="crossover")
        label_y = _TOP + 12 + 14 * index  # staggered: cross-overs can be close together
        svg.text(
            at + 4,
            label_y,
            f"{si(round(crossing.volume_per_month, -1))}: {crossing.to_label}",
            size=11,
        )
    current = comparison.workload.volume_per_month
    if current > 0:
        svg.line(x(current), _TOP, x(current), _H - _BOTTOM, "#999", stroke_dasharray="1 3")
        svg.text(x(current) + 4, _H - _BOTTOM - 6, "this workload", size=10, fill="#666")
    _legend(svg, labels, _W - _RIGHT + 16, _TOP + 10)
    return svg.render()


def breakdown_chart(comparison: Comparison) -> str:
    """One stacked bar per topology that keeps up: its monthly cost split by service."""
    topologies = [t for t in comparison.topologies if t.keeps_up]
    services = sorted({s for t in topologies for s in t.cost.by_service()})
    largest = max((t.cost.total for t in topologies), default=0.0) or 1.0
    row, right = 34.0, 200.0
    left = _label_width([t.label for t in topologies])
    height = _TOP + row * len(topologies) + 30 + 20 * len(services) / 2
    svg = Svg(_W, max(height, 160.0), "Monthly cost per topology, by service")
    scale = (_W - left - right) / largest
    for index, topology in enumerate(topologies):
        top = _TOP + index * row
        svg.text(left - 8, top + 17, _short(topology.label), anchor="end")
        offset = left
        for s_index, service in enumerate(services):
            cost = topology.cost.by_service().get(service, 0.0)
            svg.rect(offset, top + 4, cost * scale, row - 10, colour(s_index), class_="bar")
            offset += cost * scale
        svg.text(offset + 6, top + 17, money(topology.cost.total), size=11)
    _legend(svg, services, _W - right + 60, _TOP + 10)
    return svg.render()


def latency_chart(comparison: Comparison) -> str:
    """The worst task type's p50 and p95 wait, and worst after idle, per topology (log s)."""
    rows = [t for t in comparison.topologies if t.latency is not None]
    if not rows:
        return "<p>No topology has a consumer to simulate yet.</p>"
    measures = ("p50", "p95", "worst after idle")
    values = {
        t.label: (t.latency.p50_seconds, t.latency.p95_seconds, t.latency.worst_after_idle_seconds)  # type: ignore[union-attr]
        for t in rows
    }
    right, group = 170.0, 54.0
    left = _label_width([t.label for t in rows])
    axis = LogAxis(0.1, 10_000.0, left, _W - right)
    height = _TOP + group * len(rows) + 40
    svg = Svg(_W, height, "Enqueue to start of work: p50, p95 and worst case after idle")
    for tick in axis.decades():
        svg.line(axis(tick), _TOP - 6, axis(tick), height - 30, "#e5e5e5")
        svg.text(axis(tick), height - 14, f"{si(tick)} s", size=11, anchor="middle")
    for index, (label, figures) in enumerate(values.items()):
        top = _TOP + index * group
        svg.text(left - 8, top + 24, _short(label), anchor="end")
        for m_index, value in enumerate(figures):
            y = top + m_index * 15
            svg.rect(left, y, axis(max(value, 0.1)) - left, 12, colour(m_index), class_="bar")
            svg.text(axis(max(value, 0.1)) + 4, y + 10, seconds(value), size=10)
    _legend(svg, list(measures), _W - right + 16, _TOP + 10)
    return svg.render()
