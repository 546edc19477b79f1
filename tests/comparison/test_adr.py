"""ADR-0033 regenerated for a workload: the seed's structure, its pros and cons with the
numbers that measure them, the recommendation and what would change it."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from comparison.build import Report
from comparison.cost.estimate import Comparison, compare
from comparison.decide.decision import (
    Decision,
    Evaluator,
    Verdict,
    decide,
    evaluator,
    search_assumptions,
    what_would_change,
)
from comparison.errors import WorkloadError
from comparison.inputs.scenario import Scenario
from comparison.inputs.workload import Workload, load_workload, parse_workload
from comparison.render.adr import decision_outcome, render_adr
from comparison.render.adr_seed import parse_seed
from comparison.render.tables import money, seconds
from tests.comparison.test_stability import P95_TOLERANCE

REPO = Path(__file__).resolve().parents[2]
TWO_MILLION = Path(__file__).parent / "fixtures" / "workloads" / "two-million.toml"
REGIONS = frozenset({"eu-west-2", "us-east-1"})


@pytest.fixture(scope="module")
def templates(real_models):  # type: ignore[no-untyped-def]
    return list(real_models.values())


@pytest.fixture(scope="module")
def comparison(shipped_comparison: Comparison) -> Comparison:
    return shipped_comparison


@pytest.fixture(scope="module")
def evaluate(templates, workload, london, assumptions):  # type: ignore[no-untyped-def]
    return evaluator(
        templates,
        Scenario(
            workload=workload,
            prices=london,
            assumptions=search_assumptions(assumptions),
            free_tier=False,
        ),
    )


@pytest.fixture(scope="module")
def changes(workload, evaluate):  # type: ignore[no-untyped-def]
    """What would change the decision for the shipped workload (a search: ~2 s)."""
    return what_would_change(workload, evaluate)


@pytest.fixture(scope="module")
def adr(comparison, changes) -> str:  # type: ignore[no-untyped-def]
    return render_adr(Report.of(comparison, changes))


@pytest.mark.slow  # long: needs the what-would-change search on the real model (~2 s)
def test_the_adr_keeps_the_seeds_sections_in_order(adr: str) -> None:
    headings = re.findall(r"^## (.+)$", adr, flags=re.MULTILINE)
    assert headings[:5] == [
        "Status",
        "Context and Problem Statement",
        "Considered Options",
        "Decision Outcome",
        "Pros and Cons of the Options",
    ]
    seed = parse_seed()
    for option in seed.options:
        assert f"### {option.title}\n" in adr
        assert seed.context in adr


@pytest.mark.slow  # long: needs the what-would-change search on the real model (~2 s)
def test_every_pro_and_con_is_kept_verbatim_with_a_measure(adr: str) -> None:
    seed = parse_seed()
    bullets = [b for option in seed.options for b in option.bullets]
    assert len(bullets) == 29
    for bullet in bullets:
        line = next(
            (
                line
                for line in adr.splitlines()
                if line == f"* {bullet}" or line.startswith(f"* {bullet} *Measured: ")
            ),
            None,
        )
        assert line is not None, bullet
        assert "*Measured: " in line, bullet


@pytest.mark.slow  # long: needs the what-would-change search on the real model (~2 s)
def test_the_numbers_come_from_the_model(adr: str, comparison: Comparison) -> None:
    for t in comparison.topologies:
        assert t.latency is not None and t.latency.worst is not None
        section = adr.split(f"(`{t.label}`, stack {t.stack_id})")[1].split("\n\n")[0]
        assert f"cost {money(t.cost.total)}/month over the baseline" in section
        assert f"{money(t.idle.total)}/month while idle" in section
        assert f"p95 wait: {seconds(t.latency.worst.wait_p95)} ({t.latency.worst.task})" in section
        assert (
            "wake from idle (first task after an hour idle): "
            f"{seconds(t.latency.worst_after_idle_seconds)}" in section
        )
    poller = next(t for t in comparison.topologies if t.label == "webapp-poller")
    # 20,000 x 2 s + 400 x 120 s + 900 x 300 s + 200 x 60 s a month, over 30.42 days
    expected = (20_000 * 2 + 400 * 120 + 900 * 300 + 200 * 60) / (730 / 24)
    assert f"load on the web app: {expected:,.0f} CPU-seconds a day" in adr
    assert poller.label in adr
    chosen = decide(comparison).chosen
    assert chosen is not None
    assert f"(`{chosen}`)" in adr.split("## Decision Outcome")[1].split("\n")[2]


def test_the_decision_is_the_cheapest_option_that_keeps_up_and_meets_the_targets(
    comparison: Comparison,
) -> None:
    decision = decide(comparison)
    eligible = [t for t in comparison.topologies if decision.verdict(t.label).eligible]
    assert decision.chosen == min(eligible, key=lambda t: t.cost.total).label
    # The shipped workload's generate-report target (30 min) rules out the Lambdas'
    # 36.5 min p95 wait, not their cost.
    lambdas = decision.verdict("lambdas")
    assert lambdas.keeps_up and [m.task for m in lambdas.misses] == ["generate-report"]


def _with_max_wait(workload: Workload, task: str, seconds_: float | None) -> Workload:
    tasks = tuple(
        replace(t, max_wait_seconds=seconds_) if t.name == task else t for t in workload.tasks
    )
    return replace(workload, tasks=tasks)


def test_a_tighter_target_moves_the_decision(comparison: Comparison) -> None:
    poller = next(t for t in comparison.topologies if t.label == "webapp-poller")
    endpoints = next(t for t in comparison.topologies if t.label == "private-endpoints")
    p95 = {t.task: t.wait_p95 for t in poller.latency.per_task}  # type: ignore[union-attr]
    other = {t.task: t.wait_p95 for t in endpoints.latency.per_task}  # type: ignore[union-attr]
    assert other["generate-report"] < p95["generate-report"]  # what the test relies on
    target = (other["generate-report"] + p95["generate-report"]) / 2
    tight = replace(
        comparison,
        workload=_with_max_wait(comparison.workload, "generate-report", target),
    )
    decision = decide(tight)
    assert decision.verdict("webapp-poller").misses
    assert decision.chosen != "webapp-poller"
    assert "Not webapp-poller: misses the latency target: generate-report" in decision_outcome(
        Report.of(tight, what_would_change(tight.workload, lambda w: decision))
    )


def test_max_wait_is_validated() -> None:
    with pytest.raises(WorkloadError) as caught:
        parse_workload(
            {
                "tasks": {
                    "generate-report": {"volume_per_month": 9, "max_wait": -1},
                    "send-bulk-email": {"volume_per_month": 9, "max_wait": "soon"},
                }
            },
            known_regions=REGIONS,
        )
    assert "tasks.generate-report.max_wait is -1; it must be greater than 0" in str(caught.value)
    assert "tasks.send-bulk-email.max_wait is 'soon'; it must be a number" in str(caught.value)
    loaded = parse_workload(
        {"tasks": {"generate-report": {"volume_per_month": 9, "max_wait": 600}}},
        known_regions=REGIONS,
    )
    assert loaded.task("generate-report").max_wait_seconds == 600
    assert loaded.task("send-bulk-email").max_wait_seconds is None


def _fake(threshold: float, base: float, below: str, above: str):  # type: ignore[no-untyped-def]
    """A decision that is ``below`` under ``threshold`` tasks a month and ``above`` over it."""

    def evaluate(workload: Workload) -> Decision:
        label = below if workload.volume_per_month < threshold else above
        ranked = tuple(
            Verdict(
                label=name,
                cost=1.0 if name == label else 2.0,
                idle=0.0,
                complete=True,
                keeps_up=True,
                too_long=(),
                misses=(),
            )
            for name in sorted({below, above}, key=lambda n: n != label)
        )
        return Decision(chosen=label, ranked=ranked, targets=())

    return evaluate


def test_the_search_finds_the_flip_within_the_bisections_precision(workload: Workload) -> None:
    base = workload.volume_per_month
    found = what_would_change(workload, _fake(7.3 * base, base, "a", "b"))
    flip = found.of("volume").higher
    assert flip is not None and flip.becomes == "b"
    assert flip.factor == pytest.approx(7.3, rel=0.075)  # 3.16 ** (1 / 2**4) = 1.075
    assert found.of("volume").lower is None
    assert found.of("duration").lower is None and found.of("duration").higher is None
    lower = what_would_change(workload, _fake(0.2 * base, base, "c", "a")).of("volume").lower
    assert lower is not None and lower.becomes == "c"
    assert lower.factor == pytest.approx(0.2, rel=0.075)


def test_a_flip_outside_the_range_is_none_in_range(workload: Workload) -> None:
    base = workload.volume_per_month
    found = what_would_change(workload, _fake(150 * base, base, "a", "b"))
    assert found.of("volume").higher is None


@pytest.mark.slow  # long: needs the what-would-change search on the real model (~2 s)
def test_the_volume_flip_is_where_the_real_model_changes_its_mind(
    workload: Workload, evaluate, changes
) -> None:  # type: ignore[no-untyped-def]
    found = changes
    flip = found.of("volume").higher
    assert flip is not None
    today = evaluate(workload).chosen
    assert evaluate(workload.scaled(flip.factor)).chosen == flip.becomes != today
    # Below the flip by more than the simulation's p95 tolerance (15 %, test_stability):
    # nearer, a p95 on its target's edge may cross it either way.
    assert evaluate(workload.scaled(flip.factor * (1 - P95_TOLERANCE))).chosen == today


def _run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "comparison", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow  # end-to-end: the CLI twice, in fresh processes (hash seeds differ)
def test_the_adr_is_the_same_bytes_every_time(synthesized, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outputs = []
    for run in ("first", "second"):
        output = tmp_path / f"{run}.md"
        done = _run(
            "--cdk-out", str(synthesized.outdir), "--format", "adr", "--output", str(output)
        )
        assert done.returncode == 0, done.stderr
        outputs.append(output.read_bytes())
    assert outputs[0] == outputs[1]
    assert b"## Decision Outcome" in outputs[0]


@pytest.mark.slow  # long: simulates and searches two million tasks a month (~9 s)
def test_at_two_million_tasks_the_queue_free_options_cannot_keep_up(
    templates, london, assumptions, evaluate
) -> None:  # type: ignore[no-untyped-def]
    workload = load_workload(TWO_MILLION, known_regions=REGIONS)
    assert workload.volume_per_month == 2_000_000
    comparison = compare(
        templates,
        Scenario(workload=workload, prices=london, assumptions=assumptions, free_tier=False),
    )
    decision = decide(comparison)
    assert not decision.verdict("webapp-poller").keeps_up
    assert not decision.verdict("lambdas").keeps_up
    text = decision_outcome(Report.of(comparison, what_would_change(workload, evaluate)))
    assert "2,000,000 tasks a month" in text
    if decision.chosen is None:
        assert text.startswith("No option keeps up")
    else:
        assert f"(`{decision.chosen}`)" in text


def test_the_contract_names_each_of_the_seeds_options_verbatim() -> None:
    from runtime.contract.topology import TOPOLOGIES

    assert {option.title for option in parse_seed().options} == {t.adr_option for t in TOPOLOGIES}


@pytest.mark.slow  # long: two searches on the real model for each workload
@pytest.mark.parametrize("max_wait", [None, 200.0])
def test_the_pruned_search_finds_what_the_full_one_finds(
    workload: Workload, real_models, london, assumptions, max_wait: float | None
) -> None:  # type: ignore[no-untyped-def]
    """The search skips options whose idle cost is above the current choice's cost, in
    its probes and in its decisions; with every option simulated every time it finds the
    same flips."""
    if max_wait is not None:
        workload = replace(
            workload,
            tasks=tuple(
                replace(t, max_wait_seconds=max_wait) if t.name == "generate-report" else t
                for t in workload.tasks
            ),
        )
    coarse = search_assumptions(assumptions)
    models = list(real_models.values())
    pruned = what_would_change(
        workload,
        evaluator(
            models, Scenario(workload=workload, prices=london, assumptions=coarse, free_tier=False)
        ),
    )
    full_evaluator = Evaluator(
        models, Scenario(workload=workload, prices=london, assumptions=coarse), prune=False
    )
    full = what_would_change(workload, lambda w: full_evaluator(w))
    assert pruned == full
