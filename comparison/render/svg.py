"""A tiny SVG builder: the HTML report's charts are drawn in Python, with no scripts or fonts."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

# Colour-blind-safe palette (Okabe-Ito), assigned to topologies and services in order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
FONT = "font-family:system-ui,sans-serif"


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


@dataclass
class Svg:
    width: float
    height: float
    title: str
    parts: list[str] = field(default_factory=list)

    def rect(self, x: float, y: float, w: float, h: float, fill: str, **attrs: str) -> None:
        self.parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
            f'fill="{fill}"{_attrs(attrs)}/>'
        )

    def line(
        self, x1: float, y1: float, x2: float, y2: float, stroke: str = "#999", **attrs: str
    ) -> None:
        self.parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke="{stroke}"{_attrs(attrs)}/>'
        )

    def polyline(self, points: list[tuple[float, float]], stroke: str, **attrs: str) -> None:
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        self.parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{stroke}" '
            f'stroke-width="2"{_attrs(attrs)}/>'
        )

    def circle(self, x: float, y: float, r: float, fill: str, **attrs: str) -> None:
        self.parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{fill}"{_attrs(attrs)}/>'
        )

    def text(
        self, x: float, y: float, content: str, size: int = 12, anchor: str = "start", **attrs: str
    ) -> None:
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'style="{FONT}"{_attrs(attrs)}>{escape(content)}</text>'
        )

    def raw(self, markup: str) -> None:
        self.parts.append(markup)

    def render(self, css_class: str = "chart") -> str:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" role="img" '
            f'width="{self.width:.0f}" height="{self.height:.0f}" '
            f'viewBox="0 0 {self.width:.0f} {self.height:.0f}"><title>{escape(self.title)}</title>'
            + "".join(self.parts)
            + "</svg>"
        )


def _attrs(attrs: dict[str, str]) -> str:
    # class_ -> class; marker_end -> marker-end
    return "".join(
        f' {key.rstrip("_").replace("_", "-")}="{escape(value)}"' for key, value in attrs.items()
    )


@dataclass(frozen=True)
class LogAxis:
    """Maps values on a log10 scale to pixels between ``start`` and ``end``."""

    low: float
    high: float
    start: float
    end: float

    @classmethod
    def covering(cls, values: list[float], start: float, end: float) -> LogAxis:
        positive = [v for v in values if v > 0] or [1.0]
        low = 10 ** math.floor(math.log10(min(positive)))
        high = 10 ** math.ceil(math.log10(max(positive)))
        return cls(low, high if high > low else low * 10, start, end)

    def __call__(self, value: float) -> float:
        value = min(max(value, self.low), self.high)
        fraction = (math.log10(value) - math.log10(self.low)) / (
            math.log10(self.high) - math.log10(self.low)
        )
        return self.start + fraction * (self.end - self.start)

    def decades(self) -> list[float]:
        first, last = round(math.log10(self.low)), round(math.log10(self.high))
        return [10.0**e for e in range(first, last + 1)]


def si(value: float) -> str:
    """1e6 -> '1M': compact labels for log axes."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:g}{suffix}"
    return f"{value:g}"


def sig(value: float, figures: int = 2) -> str:
    """Two significant figures with a k/M/G suffix: 3162277 -> '3.2M', 17520 -> '18k'."""
    if value == 0:
        return "0"
    rounded = float(f"{value:.{figures}g}")
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(rounded) >= limit:
            return f"{float(f'{rounded / limit:.{figures}g}'):g}{suffix}"
    return f"{rounded:g}"
