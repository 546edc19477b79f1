"""One Report, built once; every format renders it and says the same thing.

Every format names the same decision, each option's sized cost (or the limit that binds
when no sizing meets), its cost at the settings shipped, and whether cost decides. The
cases: the shipped workload (each option sized; cost decides, by a lead just above the
threshold), the same templates as synthesized (a lead too small for cost to decide), a
busy one (the Lambdas cannot meet it: a task reaches Lambda's 15-minute limit, "Configure
Lambda function timeout"; worker-service is chosen), a report target no queue-driven fleet
meets (the decision is not the cheapest option by cost), and the templates as synthesized
(``--as-synthesized``), with a tight target and with one no option meets.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]  # no stubs pinned; a test-only import
import pytest

from comparison.build import FORMAT_VERSION, Report, build_report
from comparison.cli import main, parse_args
from comparison.decide.decision import MARGIN_DOLLARS
from comparison.inputs.prices import known_regions
from comparison.inputs.qualitative import QUALITIES
from comparison.inputs.scenario import Scenario
from comparison.inputs.workload import Workload, load_workload
from comparison.model.sizing import describe_sizing
from comparison.model.topology import topology_models
from comparison.render import FORMATS
from comparison.render.json_report import SCHEMA_PATH
from comparison.render.tables import money, signed_money, sweep_tables
from tests.comparison.rendered import CANNOT_KEEP_UP, CANNOT_MEET, said

REPO = Path(__file__).resolve().parents[2]
BUSY = Path(__file__).parent / "fixtures" / "workloads" / "busy.toml"
LAMBDA_TIMEOUT = "Lambda's limit of 15.0 min"

SIZED = "shipped"
AS_SHIPPED = "as synthesized"
BUSY_CASE = "busy"
UNMET = "report within 1 ms"
TIGHT = "as synthesized, tight report target"
NONE_ELIGIBLE = "as synthesized, no option eligible"
# The busy workload is sized in about 30 s: its cases run in the slow tier.
CASES = [
    SIZED,
    AS_SHIPPED,
    pytest.param(BUSY_CASE, marks=pytest.mark.slow),
    UNMET,
    TIGHT,
    NONE_ELIGIBLE,
]
SWEPT = [SIZED, AS_SHIPPED, UNMET, TIGHT, NONE_ELIGIBLE]


def _with_max_wait(workload: Workload, task: str, seconds: float) -> Workload:
    return replace(
        workload,
        tasks=tuple(
            replace(t, max_wait_seconds=seconds) if t.name == task else t for t in workload.tasks
        ),
    )


class Reports:
    """Each case's Report, built on first use and then kept for the module: a sized report
    takes seconds to build, and a test run picks only some cases."""

    def __init__(self, build: dict[str, Callable[[], Report]]) -> None:
        self._build = build
        self._built: dict[str, Report] = {}

    def __getitem__(self, case: str) -> Report:
        if case not in self._built:
            self._built[case] = self._build[case]()
        return self._built[case]


@pytest.fixture(scope="module")
def reports(real_templates, workload, london, assumptions) -> Reports:  # type: ignore[no-untyped-def]
    def build(w: Workload, *, size: bool = True, swept: bool = True) -> Callable[[], Report]:
        def run() -> Report:
            models = topology_models(list(real_templates.values()), w, assumptions)
            scenario = Scenario(workload=w, prices=london, assumptions=assumptions)
            return build_report(models, scenario, sweep=swept, changes=swept, size=size)

        return run

    busy = load_workload(BUSY, known_regions=known_regions())
    return Reports(
        {
            SIZED: build(workload),
            AS_SHIPPED: build(workload, size=False),
            BUSY_CASE: build(busy, swept=False),
            UNMET: build(_with_max_wait(workload, "generate-report", 0.001)),
            # The case: the table said private-endpoints while the JSON's "cheapest"
            # said webapp-poller, which cannot start reports within 200 s at 09:00.
            TIGHT: build(_with_max_wait(workload, "generate-report", 200.0), size=False),
            NONE_ELIGIBLE: build(_with_max_wait(workload, "generate-report", 0.001), size=False),
        }
    )


def _sized_costs(report: Report) -> dict[str, str]:
    """Per option sized: its cost in the comparison, or the limit that binds."""
    costs = {t.label: t.monthly_total for t in report.comparison.topologies}
    return {
        option.label: (
            CANNOT_MEET + option.binding
            if option.binding is not None
            else (money(cost) if (cost := costs[option.label]) is not None else CANNOT_KEEP_UP)
        )
        for option in report.sizing
    }


def _shipped_costs(report: Report) -> dict[str, str]:
    if report.reference is None:
        return {}
    return {
        t.label: money(t.monthly_total) if t.monthly_total is not None else CANNOT_KEEP_UP
        for t in report.reference.topologies
    }


def _differences(report: Report) -> set[tuple[str, str]]:
    """(contender, what the ADR says) on each ground where the contenders differ, read from
    the ADR's table of qualities (comparison/inputs/qualitative.py) by each one's kind."""
    margin = report.decision.margin
    if margin is None or margin.decides:
        return set()
    kinds = {t.label: t.kind for t in report.comparison.topologies}
    found = set()
    for ground in ("retries", "loss_on_restart", "web_app_load", "code_changes"):
        values = {label: getattr(QUALITIES[kinds[label]], ground) for label in margin.contenders}  # type: ignore[index]
        if len(set(values.values())) > 1:
            found |= set(values.items())
    return found


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", list(FORMATS))
def test_every_format_says_what_the_report_holds(reports: Reports, case: str, name: str) -> None:
    report = reports[case]
    found = said(name, FORMATS[name].render(report))
    margin = report.decision.margin
    assert found.chosen == report.decision.chosen
    assert found.sized == _sized_costs(report)
    assert found.shipped == _shipped_costs(report)
    assert found.cost_decides == (None if margin is None else margin.decides)
    assert found.differences == _differences(report)


def test_the_cases_cover_each_verdict(reports: Reports) -> None:
    decided = reports[SIZED].decision.margin
    assert decided is not None and decided.decides, "cost decides"
    close = reports[AS_SHIPPED].decision.margin
    assert close is not None and close.lead < MARGIN_DOLLARS, "cost does not decide"
    assert _differences(reports[AS_SHIPPED]), "the contenders differ on the ADR's grounds"
    unmet = reports[UNMET]
    assert unmet.decision.chosen not in (None, unmet.cheapest_by_cost)
    assert [s.label for s in unmet.sizing if not s.meets], "some option cannot meet it"
    assert reports[TIGHT].decision.chosen not in (None, reports[TIGHT].cheapest_by_cost)
    assert reports[NONE_ELIGIBLE].decision.chosen is None
    for case in (TIGHT, NONE_ELIGIBLE):
        assert not reports[case].sizing and reports[case].reference is None


@pytest.mark.slow  # sizes the busy workload (~30 s)
def test_the_busy_workload_is_met_by_worker_service_and_not_by_the_lambdas(
    reports: Reports,
) -> None:
    busy = reports[BUSY_CASE]
    assert busy.decision.chosen == "worker-service"
    lambdas = busy.sized("lambdas")
    assert lambdas is not None and lambdas.binding is not None
    assert LAMBDA_TIMEOUT in lambdas.binding
    assert busy.decision.cost_decides


@pytest.mark.parametrize("case", CASES)
def test_the_adr_names_the_chosen_sizing_and_its_deploy_command(
    reports: Reports, case: str
) -> None:
    report = reports[case]
    adr = FORMATS["adr"].render(report)
    outcome = adr.split("## Decision Outcome")[1].split("\n## ")[0]
    chosen = report.decision.chosen
    if chosen is None:
        assert "No option is chosen, so there is no sizing to deploy." in outcome
        return
    assert f"`{report.deploy_command(chosen)}`" in outcome
    assert report.deploy_command(chosen).startswith(f"npx cdk deploy -c topology={chosen}")
    option = report.sized(chosen)
    if option is None:  # as synthesized: deployed as the templates are
        assert "### Sizing" not in outcome
        return
    assert option.sizing is not None
    assert f"({chosen}: {describe_sizing(option.sizing)})" in outcome
    assert f"-c sizing={report.sizing_dir}/{chosen}.json" in outcome


@pytest.mark.parametrize("case", [TIGHT, NONE_ELIGIBLE])
def test_a_report_as_synthesized_has_no_sizing(reports: Reports, case: str) -> None:
    report = reports[case]
    for name, f in FORMATS.items():
        text = f.render(report)
        assert "sized for the workload" not in text, name
    data = json.loads(FORMATS["json"].render(report))
    assert data["sizing"] is None
    assert data["decision"]["chosen_sizing"] is None


def test_the_text_names_the_cheapest_by_cost_for_what_it_is(reports: Reports) -> None:
    tight = reports[TIGHT]
    text = FORMATS["table"].render(tight)
    assert f"Cheapest by cost alone, ignoring the latency targets: {tight.cheapest_by_cost}" in text
    assert "Cheapest complete topology" not in text


@pytest.mark.parametrize("case", CASES)
def test_the_json_is_valid_against_the_shipped_schema(reports: Reports, case: str) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    report = reports[case]
    data = json.loads(FORMATS["json"].render(report))
    jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    assert data["format_version"] == FORMAT_VERSION == "2"
    assert "cheapest" not in data, "named for what it is: cheapest_by_cost_ignoring_targets"
    ranked = data["decision"]["ranked"]
    assert {v["option"] for v in ranked} == {t.label for t in report.comparison.topologies}
    assert all((v["reason"] is None) == v["eligible"] for v in ranked)
    assert data["decision"]["cost_decides"] == report.decision.cost_decides
    if data["what_would_change"] is not None:
        assert {f["input"] for f in data["what_would_change"]["flip_points"]} == {
            "volume",
            "duration",
            "network",
        }


@pytest.mark.parametrize("case", [SIZED, pytest.param(BUSY_CASE, marks=pytest.mark.slow)])
def test_the_json_carries_each_sizing_file_section(reports: Reports, case: str) -> None:
    """Each sized option's document is its section of the sizing file the comparison
    writes, the one `cdk synth -c sizing=<file>` reads; its deploy command names that file."""
    report = reports[case]
    data = json.loads(FORMATS["json"].render(report))
    files = report.sizing_files()
    assert {o["option"] for o in data["sizing"]["options"]} == {s.label for s in report.sizing}
    for option in data["sizing"]["options"]:
        label = option["option"]
        if option["meets"]:
            assert option["sized"]["document"] == files[f"{label}.json"][label]
            assert option["sized"]["deploy_command"].endswith(f"/{label}.json")
        else:
            assert option["sized"] is None and option["binding"]
            assert f"{label}.json" not in files


def test_the_schema_ships_in_the_package() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"comparison.render" = ["report.schema.json"]' in pyproject
    assert SCHEMA_PATH.parent == REPO / "comparison" / "render"


def test_what_would_change_is_in_the_table_and_the_html(reports: Reports) -> None:
    report = reports[SIZED]
    assert report.changes is not None
    for name in ("table", "markdown", "html"):
        assert "What would change the decision" in FORMATS[name].render(report)


def test_no_renderer_decides_anything() -> None:
    """The renderers take a Report; none calls the decision, the search or the model."""
    forbidden = {"decide", "what_would_change", "evaluator", "compare", "monthly_cost", "judge"}
    forbidden |= {"size_all", "size_topology", "size_options", "apply_sizing"}
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


def test_an_empty_cross_over_table_says_none(reports: Reports) -> None:
    report = reports[SIZED]
    assert report.sweep is not None
    empty = replace(report.comparison, sweep=replace(report.sweep, cross_overs=()))
    crossings = next(t for t in sweep_tables(empty) if t.title.startswith("Cost cross-overs"))
    assert crossings.rows == (("none", "", ""),)


@pytest.mark.parametrize("case", SWEPT)
def test_sweep_bands_respect_the_targets(reports: Reports, case: str) -> None:
    """At every swept volume the chosen option is one the decision's rule accepts there."""
    report = reports[case]
    assert report.sweep is not None
    for point in report.sweep.points:
        if point.chosen is not None:
            assert point.chosen in point.eligible
            eligible = {label: point.totals[label] for label in point.eligible}
            assert point.chosen == min(eligible, key=eligible.__getitem__)
    if case == TIGHT:
        assert any(point.missing_targets for point in report.sweep.points)


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
    the answer is the one the same search gives in line, in this process (both on the
    templates as synthesized, which the in-line search is given)."""
    from comparison import build
    from comparison.render.json_report import _changes

    result = _compare("--cdk-out", str(synthesized.outdir), "--format", "json", "--as-synthesized")
    assert result.returncode == 0, result.stderr
    forked = json.loads(result.stdout)["what_would_change"]
    models = list(real_models.values())
    in_line = build._search(
        models, Scenario(workload=workload, prices=london, assumptions=assumptions)
    )
    assert forked == json.loads(json.dumps(_changes(in_line)))
