"""The HTML report: self-contained, decision first, and drawn by a real browser (headless
Chromium) at 1400 and 390 px without overlapping or clipped labels."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import pytest

from comparison.build import Report
from comparison.cost.estimate import Comparison, compare
from comparison.decide.decision import decide
from comparison.decide.sweep import with_sweep
from comparison.inputs.scenario import Scenario
from comparison.inputs.templates import load_templates
from comparison.model.topology import topology_models
from comparison.render.csv_report import render_csv
from comparison.render.html import render_html
from comparison.render.line_items import SUB_CENT, line_item_rows

pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Screenshots are kept here (gitignored: build/), or under $COMPARISON_ARTIFACTS.
ARTIFACTS = Path(
    os.environ.get(
        "COMPARISON_ARTIFACTS",
        Path(__file__).resolve().parents[2] / "build" / "test-artifacts" / "comparison",
    )
)


@pytest.fixture(scope="module")
def report_html(fixture_out, workload, london, assumptions) -> str:  # type: ignore[no-untyped-def]
    models = topology_models(load_templates(fixture_out), workload, assumptions)
    comparison = compare(
        models, Scenario(workload=workload, prices=london, assumptions=assumptions, free_tier=False)
    )
    return render_html(
        Report.of(
            with_sweep(
                comparison,
                models,
                Scenario(workload=workload, prices=london, assumptions=assumptions),
            )
        )
    )


@pytest.fixture(scope="module")
def real_comparison(real_models, workload, london, assumptions) -> Comparison:  # type: ignore[no-untyped-def]
    models = list(real_models.values())
    comparison = compare(
        models, Scenario(workload=workload, prices=london, assumptions=assumptions, free_tier=False)
    )
    return with_sweep(
        comparison, models, Scenario(workload=workload, prices=london, assumptions=assumptions)
    )


@pytest.fixture(scope="module")
def real_html(real_comparison: Comparison) -> str:
    return render_html(Report.of(real_comparison))


def test_report_is_self_contained(report_html: str) -> None:
    assert "<script" not in report_html
    assert "@font-face" not in report_html
    assert not re.search(r"url\((?!#)", report_html)  # only in-document references
    assert not re.search(r'(src|href)="(https?:)?//', report_html)


def test_report_has_every_chart_and_a_diagram_per_topology(report_html: str) -> None:
    assert report_html.count('class="chart"') == 3
    assert report_html.count('class="diagram"') == 3
    assert report_html.count('class="series"') == 3  # one cost line per topology


def test_the_decision_block_comes_first(real_html: str, real_comparison: Comparison) -> None:
    body = real_html.split("<body>", 1)[1]
    assert body.index('class="decision"') < body.index("<svg")
    chosen = decide(real_comparison).chosen
    block = body.split('class="decision"', 1)[1].split("</section>", 1)[0]
    assert f"Decision for 21,500 tasks/month: {chosen}," in block
    assert f"<td>{chosen} (chosen)</td>" in block
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in real_html


def test_volumes_are_written_to_two_significant_figures(real_html: str) -> None:
    assert not re.search(r"\d\.\d{3,}[kM]", real_html)  # no "3.16228M"
    assert "cannot keep up above 420k" in real_html  # the lambdas' 418,533


def test_every_service_has_its_own_fill(real_html: str) -> None:
    chart = real_html.split("Monthly cost per option, by service", 1)[1].split("</svg>", 1)[0]
    legend = re.findall(
        r'<rect [^>]*fill="([^"]+)"[^>]*class="swatch"/><text [^>]*>([^<]+)</text>', chart
    )
    fills = [fill for fill, _ in legend]
    assert len(legend) >= 8
    assert len(set(fills)) == len(fills), legend


def test_line_items_write_out_their_calculation_and_fold_sub_cent_rows(
    real_html: str, real_comparison: Comparison
) -> None:
    rows = line_item_rows(real_comparison)
    alb = next(r for r in rows if r.scope == "private-endpoints" and r.price_key == "elb.alb_hour")
    assert alb.calculation == "an ALB all month: 730 ALB-hours x $0.02646 per ALB-hours = $19.32"
    assert f'<td class="calc">{alb.calculation}</td>' in real_html
    small = [r for r in rows if r.cost < SUB_CENT]
    assert small
    assert "rows under a cent" in real_html
    for topology in real_comparison.topologies:  # rows add up to each total
        mine = sum(r.cost for r in rows if r.scope == topology.label)
        assert mine == pytest.approx(topology.cost.total if topology.keeps_up else 0.0)


def test_csv_carries_the_same_rows(real_comparison: Comparison) -> None:
    text = render_csv(Report.of(real_comparison))
    parsed = list(csv.DictReader(io.StringIO(text)))
    rows = line_item_rows(real_comparison)
    assert [(p["scope"], p["logical_id"], p["price_key"]) for p in parsed] == [
        (r.scope, r.logical_id, r.price_key) for r in rows
    ]
    assert [p["calculation"] for p in parsed] == [r.calculation for r in rows]
    assert text == render_csv(Report.of(real_comparison))


def test_the_html_is_the_same_bytes_every_time(
    real_models, workload, london, assumptions, real_html: str
) -> None:  # type: ignore[no-untyped-def]
    models = list(real_models.values())
    again = with_sweep(
        compare(
            models,
            Scenario(workload=workload, prices=london, assumptions=assumptions, free_tier=False),
        ),
        models,
        Scenario(workload=workload, prices=london, assumptions=assumptions),
    )
    assert render_html(Report.of(again)) == real_html


def _require_browser() -> None:
    """Missing Chromium fails in CI (CI=true) with the fix; elsewhere it skips, saying so."""
    problem = None
    if not CHROMIUM.exists():
        problem = (
            f"{CHROMIUM} is missing; install it with: apt-get update && apt-get install -y chromium"
        )
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is missing; pip install -e '.[dev]'"
    if problem and os.environ.get("CI"):
        pytest.fail(problem)
    if problem:
        pytest.skip(problem)


# Per chart: text boxes that overlap one another, or leave the chart's own box.
_LABEL_PROBLEMS = """
() => {
  const problems = [];
  for (const svg of document.querySelectorAll('svg.chart, svg.diagram')) {
    const name = (svg.querySelector('title') || {}).textContent;
    const box = svg.getBoundingClientRect();
    const texts = [...svg.querySelectorAll('text')]
      .map(t => [t.textContent, t.getBoundingClientRect()]);
    for (const [text, r] of texts) {
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 ||
          r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5) {
        problems.push(`${name}: "${text}" is clipped`);
      }
    }
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < texts.length; j++) {
        const [a, ra] = texts[i], [b, rb] = texts[j];
        const dx = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
        const dy = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
        if (dx > 0.5 && dy > 0.5) problems.push(`${name}: "${a}" overlaps "${b}"`);
      }
    }
  }
  return problems;
}
"""


# The smallest chart or diagram text as drawn: its font size times the SVG's scale.
_SMALLEST_CHART_TEXT = """
() => Math.min(...[...document.querySelectorAll('svg.chart, svg.diagram')].flatMap(svg => {
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  return [...svg.querySelectorAll('text')].map(
    t => parseFloat(getComputedStyle(t).fontSize) * scale);
}))
"""
# Where the decision table's verdict header starts, against the viewport's width.
_VERDICT_HEADER = """
() => {
  const th = [...document.querySelectorAll('#decision th')].find(e => e.textContent === 'verdict');
  return th ? [th.getBoundingClientRect().left, window.innerWidth] : null;
}
"""


@pytest.mark.parametrize(
    ("report", "width"),
    [("real_html", 1400), ("real_html", 390), ("report_html", 1400), ("report_html", 390)],
    ids=["project-1400", "project-390", "fixtures-1400", "fixtures-390"],
)
def test_headless_chromium_draws_every_chart_without_overlap_or_overflow(
    request: pytest.FixtureRequest, report: str, tmp_path: Path, width: int
) -> None:
    """The project's four topologies, and the fixture stacks (which have a cost
    cross-over), at a desktop and a phone width."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    html: str = request.getfixturevalue(report)
    page_path = tmp_path / "comparison.html"
    page_path.write_text(html)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = "comparison" if report == "real_html" else "fixtures"
    screenshot = ARTIFACTS / f"{name}-{width}.png"
    errors: list[str] = []
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a new, empty user data dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": width, "height": 900},
        )
        try:
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_path.as_uri())
            sizes = page.eval_on_selector_all(
                "svg.chart, svg.diagram",
                "els => els.map(e => { const r = e.getBoundingClientRect(); "
                "return [r.width, r.height]; })",
            )
            drawn = page.eval_on_selector_all(
                "polyline.series, rect.bar, rect.node",
                "els => els.filter(e => e.getBBox().width > 0 && e.getBBox().height > 0).length",
            )
            labels = page.evaluate(_LABEL_PROBLEMS)
            smallest = page.evaluate(_SMALLEST_CHART_TEXT)
            verdict = page.evaluate(_VERDICT_HEADER)
            page_width = page.evaluate("document.documentElement.scrollWidth")
            viewport = page.evaluate("window.innerWidth")
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            context.close()
    print(f"\nARTIFACT screenshot: {screenshot}")
    assert len(sizes) == 3 + html.count('class="diagram"')
    assert all(w > 100 and h > 50 for w, h in sizes), sizes
    assert drawn > 30
    assert labels == []
    assert smallest >= 10, f"chart text drawn at {smallest:.1f} px"
    assert verdict is not None and verdict[0] >= 0 and verdict[0] + 40 <= verdict[1], (
        f"the decision table's verdict column starts at {verdict} (left, viewport) px"
    )
    assert page_width <= viewport, f"{page_width} px wide at a {viewport} px viewport"
    assert errors == []
    assert screenshot.stat().st_size > 10_000
