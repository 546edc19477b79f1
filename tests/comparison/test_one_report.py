"""One Report, built once; every format renders it and names the same decision.

The workloads include ones whose decision differs from the cheapest option by cost (a
tight ``max_wait``), and one where no option is eligible.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]  # no stubs pinned; a test-only import
import pytest

from comparison.build import FORMAT_VERSION, Report, build_report
from comparison.cli import main, parse_args
from comparison.inputs.scenario import Scenario
from comparison.inputs.workload import Workload
from comparison.render import FORMATS
from comparison.render.json_report import SCHEMA_PATH
from comparison.render.tables import money, signed_money, sweep_tables

REPO = Path(__file__).resolve().parents[2]


def _with_max_wait(workload: Workload, task: str, seconds: float) -> Workload:
    return replace(
        workload,
        tasks=tuple(
            replace(t, max_wait_seconds=seconds) if t.name == task else t for t in workload.tasks
        ),
    )


def _chosen_in(name: str, text: str) -> str | None:
    """The option a rendered format names as the decision (None: it names none)."""
    if name == "json":
        return json.loads(text)["decision"]["chosen"]  # type: ignore[no-any-return]
    if name == "csv":
        chosen = {r["scope"] for r in csv.DictReader(io.StringIO(text)) if r["verdict"] == "chosen"}
        assert len(chosen) <= 1
        return next(iter(chosen), None)
    if name == "adr":
        found = re.search(r"Chosen option: .*?\(`([\w-]+)`\)", text)
        if found is None:
            assert "No option keeps up" in text
        return found.group(1) if found else None
    found = re.search(r"Decision for [\d,]+ tasks/month: ([\w-]+), the cheapest", text)
    if found is None:
        assert "no option keeps up and meets the latency targets" in text
    return found.group(1) if found else None


@pytest.fixture(scope="module")
def reports(real_models, workload, london, assumptions) -> dict[str, Report]:  # type: ignore[no-untyped-def]
    models = list(real_models.values())

    def build(w: Workload) -> Report:
        scenario = Scenario(workload=w, prices=london, assumptions=assumptions)
        return build_report(models, scenario, sweep=True, changes=True)

    return {
        "shipped": build(workload),
        # The case: the table said private-endpoints while the JSON's "cheapest"
        # said webapp-poller, which cannot start reports within 200 s at 09:00.
        "tight report target": build(_with_max_wait(workload, "generate-report", 200.0)),
        "no option eligible": build(_with_max_wait(workload, "generate-report", 0.001)),
    }


@pytest.mark.parametrize("case", ["shipped", "tight report target", "no option eligible"])
def test_every_format_names_the_reports_decision(reports: dict[str, Report], case: str) -> None:
    report = reports[case]
    named = {name: _chosen_in(name, f.render(report)) for name, f in FORMATS.items()}
    assert named == dict.fromkeys(FORMATS, report.decision.chosen)


def test_the_cases_cover_a_decision_that_is_not_the_cheapest(reports: dict[str, Report]) -> None:
    assert reports["shipped"].decision.chosen == "webapp-poller"
    tight = reports["tight report target"]
    assert tight.decision.chosen not in (None, tight.cheapest_by_cost)
    assert reports["no option eligible"].decision.chosen is None


def test_the_text_names_the_cheapest_by_cost_for_what_it_is(reports: dict[str, Report]) -> None:
    tight = reports["tight report target"]
    text = FORMATS["table"].render(tight)
    assert f"Cheapest by cost alone, ignoring the latency targets: {tight.cheapest_by_cost}" in text
    assert "Cheapest complete topology" not in text


@pytest.mark.parametrize("case", ["shipped", "tight report target", "no option eligible"])
def test_the_json_is_valid_against_the_shipped_schema(
    reports: dict[str, Report], case: str
) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    data = json.loads(FORMATS["json"].render(reports[case]))
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    assert data["format_version"] == FORMAT_VERSION
    assert "cheapest" not in data, "named for what it is: cheapest_by_cost_ignoring_targets"
    ranked = data["decision"]["ranked"]
    assert {v["option"] for v in ranked} == {t.label for t in reports[case].comparison.topologies}
    assert all((v["reason"] is None) == v["eligible"] for v in ranked)
    assert {f["input"] for f in data["what_would_change"]["flip_points"]} == {
        "volume",
        "duration",
        "network",
    }


def test_the_schema_ships_in_the_package() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"comparison.render" = ["report.schema.json"]' in pyproject
    assert SCHEMA_PATH.parent == REPO / "comparison" / "render"


def test_what_would_change_is_in_the_table_and_the_html(reports: dict[str, Report]) -> None:
    report = reports["shipped"]
    assert report.changes is not None
    for name in ("table", "markdown", "html"):
        assert "What would change the decision" in FORMATS[name].render(report)


def test_no_renderer_decides_anything() -> None:
    """The renderers take a Report; none calls the decision, the search or the model."""
    forbidden = {"decide", "what_would_change", "evaluator", "compare", "monthly_cost", "judge"}
    for path in sorted((REPO / "comparison" / "render").glob("*.py")):
        tree = ast.parse(path.read_text())
        called = {
            node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
        }
        assert not called & forbidden, f"{path.name} calls {called & forbidden}"


def test_the_cli_offers_exactly_the_registered_formats() -> None:
    for name in FORMATS:
        assert parse_args(["--format", name]).format == name
    source = (REPO / "comparison" / "cli.py").read_text()
    assert '"adr"' not in source and '"html"' not in source, "no format is special-cased"


def test_an_empty_cross_over_table_says_none(reports: dict[str, Report]) -> None:
    report = reports["shipped"]
    assert report.sweep is not None
    empty = replace(report.comparison, sweep=replace(report.sweep, cross_overs=()))
    crossings = next(t for t in sweep_tables(empty) if t.title.startswith("Cost cross-overs"))
    assert crossings.rows == (("none", "", ""),)


def test_sweep_bands_respect_the_targets(reports: dict[str, Report]) -> None:
    """At every swept volume the chosen option is one the decision's rule accepts there."""
    for report in reports.values():
        assert report.sweep is not None
        for point in report.sweep.points:
            if point.chosen is not None:
                assert point.chosen in point.eligible
                eligible = {label: point.totals[label] for label in point.eligible}
                assert point.chosen == min(eligible, key=eligible.__getitem__)
    tight = reports["tight report target"].sweep
    assert tight is not None
    assert any(point.missing_targets for point in tight.points)


def test_signed_amounts_use_a_minus_sign() -> None:
    assert money(-3.014) == "\u2212$3.01"
    assert signed_money(-3.014) == "\u2212$3.01"
    assert signed_money(3.014) == "+$3.01"
    assert signed_money(0.001) == "$0.00"
    assert money(1234.5) == "$1,234.50"


def test_first_to_saturate_names_only_a_task_with_volume(
    real_models, workload, london, assumptions
) -> None:  # type: ignore[no-untyped-def]
    """worker-service runs every task on one consumer; with no scan results, the task that
    saturates it first is one the workload runs."""
    from comparison.cost.estimate import compare
    from comparison.decide.sweep import capacity_limit

    quiet = replace(
        workload,
        tasks=tuple(
            replace(t, volume_per_month=0.0) if t.name == "virus-scan-result" else t
            for t in workload.tasks
        ),
    )
    result = compare(
        [real_models["worker-service"]],
        Scenario(workload=quiet, prices=london, assumptions=assumptions, free_tier=False),
    )
    latency = result.topologies[0].latency
    assert latency is not None
    assert any(not s.active for s in latency.saturations), "the idle task is listed"
    limit = capacity_limit("worker-service", latency, quiet.volume_per_month)
    assert limit is not None
    assert quiet.task(limit.task).volume_per_month > 0


# -- the CLI, as a user runs it -------------------------------------------------------------


def _compare(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "comparison", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow  # process: python -m comparison in a fresh interpreter
def test_a_bad_argument_is_one_line() -> None:
    result = _compare("--format", "yaml")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "invalid choice: 'yaml'" in result.stderr
    assert result.stdout == ""


@pytest.mark.slow  # process: python -m comparison in a fresh interpreter
def test_a_closed_pipe_ends_quietly(synthesized) -> None:  # type: ignore[no-untyped-def]
    """`compare --format json | head -c 100`: the reader leaves early; no traceback."""
    pipeline = subprocess.run(
        f"{sys.executable} -m comparison --cdk-out {synthesized.outdir} --format json "
        "| head -c 100",
        shell=True,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pipeline.returncode == 0
    assert len(pipeline.stdout) == 100
    assert "Traceback" not in pipeline.stderr and "BrokenPipe" not in pipeline.stderr


def test_a_cdk_out_missing_topologies_says_so_first(synthesized, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """After a plain `cdk synth`, cdk.out holds only the default topology."""
    one = tmp_path / "cdk.out"
    one.mkdir()
    shutil.copy(synthesized.outdir / "AsyncTasks-WebappPoller.template.json", one)
    assert main(["--cdk-out", str(one)]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith("Only 1 of the 4 topologies were synthesized; not compared: ")
    for name in ("lambdas", "private-endpoints", "worker-service"):
        assert name in first
    assert "the only eligible option of those synthesized" in out
    assert "the only eligible option," not in out
    assert main(["--cdk-out", str(one), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["notes"] == [first]


@pytest.mark.slow  # process: python -m comparison in a fresh interpreter
def test_the_search_run_beside_the_report_is_the_search_run_in_line(
    synthesized, real_models, workload, london, assumptions
) -> None:  # type: ignore[no-untyped-def]
    """The CLI forks the search onto the second core (its process has no other thread);
    the answer is the one the same search gives in line, in this process."""
    from comparison import build
    from comparison.render.json_report import _changes

    result = _compare("--cdk-out", str(synthesized.outdir), "--format", "json")
    assert result.returncode == 0, result.stderr
    forked = json.loads(result.stdout)["what_would_change"]
    models = list(real_models.values())
    in_line = build._search(
        models, Scenario(workload=workload, prices=london, assumptions=assumptions)
    )
    assert forked == json.loads(json.dumps(_changes(in_line)))
