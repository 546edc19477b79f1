"""The loop closes: the sizing the search writes synthesizes, and comparing the synthesized
templates gives the search's figures (issue 22, part 4).

For the shipped workload and a busy one (``fixtures/workloads/busy.toml``, over 1.5M tasks
a month): size every option, write the sizing file the CLI writes, synthesize all four
topologies with ``-c sizing=<file>``, read the templates back and compare them as
synthesized. Each option's monthly cost is within 1 % of the sized figure, its verdict is
the same, and no target the search said it meets is missed on re-simulation.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from comparison.build import Report, build_report
from comparison.inputs.assumptions import DEFAULT_ASSUMPTIONS
from comparison.inputs.prices import known_regions, load_price_table
from comparison.inputs.scenario import Scenario
from comparison.inputs.templates import load_templates
from comparison.inputs.workload import DEFAULT_WORKLOAD_PATH, load_workload
from comparison.model.sizing import describe_sizing, stated_sizing
from comparison.model.topology import topology_models
from comparison.size.files import ALL_OPTIONS_FILE, option_file
from tests.conftest import PROJECT_ROOT, SynthesizedApp, cdk_json_context

pytestmark = pytest.mark.slow

BUSY = Path(__file__).parent / "fixtures/workloads/busy.toml"
WORKLOADS = {"shipped": DEFAULT_WORKLOAD_PATH, "busy": BUSY}


@dataclass(frozen=True)
class Loop:
    sized: Report
    """The report the search gives: options sized by applying the sizing to the models."""
    synthesized: Report
    """The templates synthesized with the sizing file, compared as synthesized."""
    sizing_dir: Path


def _scenario(path: Path) -> Scenario:
    workload = load_workload(path, known_regions=known_regions())
    return Scenario(
        workload=workload,
        prices=load_price_table(workload.region),
        assumptions=DEFAULT_ASSUMPTIONS,
    )


def _synthesize(sizing_file: Path, outdir: Path) -> Path:
    from stacks.topologies import add_topologies, new_app

    context = {**cdk_json_context(), "topology": "all", "sizing": str(sizing_file)}
    app = new_app(context=context, outdir=str(outdir))
    add_topologies(app)
    app.synth()
    return outdir


@pytest.fixture(scope="module", params=sorted(WORKLOADS))
def loop(
    request: pytest.FixtureRequest,
    synthesized: SynthesizedApp,
    tmp_path_factory: pytest.TempPathFactory,
) -> Loop:
    scenario = _scenario(WORKLOADS[request.param])
    shipped = topology_models(
        load_templates(synthesized.outdir), scenario.workload, scenario.assumptions
    )
    sizing_dir = tmp_path_factory.mktemp(f"sizing-{request.param}")
    sized = build_report(shipped, scenario, sizing_dir=str(sizing_dir))
    for name, document in sized.sizing_files().items():
        (sizing_dir / name).write_text(json.dumps(document, indent=2))
    outdir = _synthesize(sizing_dir / ALL_OPTIONS_FILE, tmp_path_factory.mktemp("sized.out"))
    models = topology_models(load_templates(outdir), scenario.workload, scenario.assumptions)
    again = build_report(models, _scenario(WORKLOADS[request.param]), size=False)
    return Loop(sized=sized, synthesized=again, sizing_dir=sizing_dir)


def test_every_option_that_meets_writes_a_sizing_and_the_chosen_one_is_named(
    loop: Loop,
) -> None:
    document = json.loads((loop.sizing_dir / ALL_OPTIONS_FILE).read_text())
    assert document["chosen"] == loop.sized.decision.chosen
    for option in loop.sized.sizing:
        written = loop.sizing_dir / option_file(option.label)
        assert written.exists() == (option.sizing is not None), option.label
        if option.sizing is not None:
            assert option.label in json.loads(written.read_text())


def test_the_synthesized_templates_state_the_sizing_the_search_found(loop: Loop) -> None:
    by_label = {t.label: t for t in loop.synthesized.comparison.topologies}
    for option in loop.sized.sizing:
        if option.sizing is None:
            continue
        assert stated_sizing(by_label[option.label].model) == option.sizing, option.label


def test_costs_agree_within_one_percent(loop: Loop) -> None:
    synthesized = {t.label: t for t in loop.synthesized.comparison.topologies}
    for topology in loop.sized.comparison.topologies:
        option = loop.sized.sized(topology.label)
        if option is None or option.sizing is None:
            continue
        expected = topology.cost.total
        actual = synthesized[topology.label].cost.total
        assert actual == pytest.approx(expected, rel=0.01), topology.label


def test_verdicts_agree_and_no_met_target_is_missed(loop: Loop) -> None:
    assert loop.synthesized.decision.chosen == loop.sized.decision.chosen
    for option in loop.sized.sizing:
        if option.sizing is None:
            continue
        said = loop.sized.decision.verdict(option.label)
        again = loop.synthesized.decision.verdict(option.label)
        assert (again.keeps_up, again.complete) == (said.keeps_up, said.complete)
        assert {m.task for m in again.misses} == {m.task for m in said.misses}, option.label
        if option.meets:
            assert again.misses == (), option.label


def test_the_search_meets_the_shipped_workload_everywhere_and_the_busy_one_but_lambdas(
    loop: Loop,
) -> None:
    # The shipped workload fits every option once sized; the busy one's 15-minute bulk
    # uploads reach Lambda's limit ("Configure Lambda function timeout": at most 900 s).
    cannot = {o.label: o.binding for o in loop.sized.sizing if not o.meets}
    if loop.sized.comparison.workload.volume_per_month > 1_000_000:
        assert set(cannot) == {"lambdas"}
        assert "Lambda's limit of 15.0 min" in (cannot["lambdas"] or "")
    else:
        assert cannot == {}


def test_the_cdk_cli_synthesizes_the_chosen_sizing_file(loop: Loop, tmp_path: Path) -> None:
    # As the ADR tells a deployer: `npx cdk synth -c topology=<chosen> -c sizing=<file>`.
    chosen = loop.sized.decision.chosen
    assert chosen is not None
    sizing_file = loop.sizing_dir / option_file(chosen)
    run = subprocess.run(
        [
            "npx",
            "cdk",
            "synth",
            "-c",
            f"topology={chosen}",
            "-c",
            f"sizing={sizing_file}",
            "--no-notices",
            "--quiet",
            "-o",
            str(tmp_path),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    (template,) = load_templates(tmp_path)
    scenario = loop.sized.comparison.workload
    (model,) = topology_models([template], scenario, DEFAULT_ASSUMPTIONS)
    option = loop.sized.sized(chosen)
    assert option is not None
    assert stated_sizing(model) == option.sizing


@pytest.mark.parametrize("loop", ["busy"], indirect=True)
def test_the_readme_quotes_the_busy_workloads_decision(loop: Loop) -> None:
    # The shipped workload's figures: tests/comparison/test_readme_figures.py.
    readme = " ".join((PROJECT_ROOT / "README.md").read_text().split())
    paragraph = readme[readme.index("For a busy workload") :][:700]
    chosen = loop.sized.decision.chosen
    option = loop.sized.sized(chosen or "")
    assert option is not None and option.sizing is not None
    cost = loop.sized.decision.verdict(option.label).cost
    assert cost is not None
    assert f"{loop.sized.comparison.workload.volume_per_month:,.0f} tasks" in paragraph
    assert f"The recommendation is {chosen} at ${cost:,.2f} a month" in paragraph
    assert describe_sizing(option.sizing) in paragraph
    for unmet in (o for o in loop.sized.sizing if not o.meets):
        assert f"{unmet.label} cannot meet: {unmet.binding}" in paragraph
    assert loop.sized.reference_decision is not None
    assert loop.sized.reference_decision.chosen is None, "as shipped, no option keeps up"
