"""AWS Control Tower's proactive controls: run at synth, and exempted only as README says.

The controls are AWS's own ("AWS Control Tower proactive controls", published as
cfn-guard rules): https://docs.aws.amazon.com/controltower/latest/controlreference/proactive-controls.html
The deployability gate (test_deployability.py) fails any combination whose synth
reports a finding; this module checks the exemptions.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aws_cdk import Stack
from aws_cdk import aws_cloudwatch as cloudwatch

from stacks.control_tower import EXEMPT_CONTROLS, control_tower_checks, rule_file
from stacks.topologies import add_topologies, new_app
from tests.conftest import PROJECT_ROOT, cdk_json_context

README = PROJECT_ROOT / "README.md"
TABLE_HEADING = "### Control Tower controls exempted"
_CONTROL = re.compile(r"`(CT\.[A-Z0-9]+\.PR\.\d+)`")


def exempted_in_readme(readme: str) -> list[str]:
    """The table's controls, one per row; each row must give where and why."""
    _, found, rest = readme.partition(f"\n{TABLE_HEADING}\n")
    assert found, f"README.md has no '{TABLE_HEADING}' section"
    controls = []
    for line in rest.split("\n#", 1)[0].splitlines():
        if not line.startswith("| `CT."):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == 3 and cells[1] and cells[2], f"row needs where and reason: {line}"
        (control,) = _CONTROL.findall(cells[0])
        controls.append(control)
    return controls


def test_readme_table_lists_exactly_the_exempted_controls() -> None:
    listed = exempted_in_readme(README.read_text())
    assert len(listed) == len(set(listed)), f"a control is listed twice: {listed}"
    assert sorted(listed) == sorted(EXEMPT_CONTROLS)


def test_a_table_row_without_a_reason_is_refused() -> None:
    readme = f"\n{TABLE_HEADING}\n| `CT.S3.PR.9` | both buckets |  |\n"
    with pytest.raises(AssertionError, match="reason"):
        exempted_in_readme(readme)


def test_each_control_names_its_bundled_rule_file() -> None:
    assert rule_file("CT.S3.PR.10") == "ct-s3-pr-10"
    assert rule_file("CT.ELASTICLOADBALANCING.PR.5") == "ct-elasticloadbalancing-pr-5"


def _failing_controls(outdir: Path) -> dict[str, set[str]]:
    """Control id -> the construct paths the cfn-guard plugin reported."""
    report = outdir / "validation-report.json"
    failing: dict[str, set[str]] = {}
    if not report.exists():
        return failing
    for plugin in json.loads(report.read_text())["pluginReports"]:
        if plugin["pluginName"] != "cdk-validator-cfnguard":
            continue
        for violation in plugin["violations"]:
            (control,) = re.findall(r"\[(CT\.[A-Z0-9]+\.PR\.\d+)\]", violation["description"])
            paths = {c["constructPath"] for c in violation["violatingConstructs"]}
            failing.setdefault(control, set()).update(paths)
    return failing


@pytest.mark.slow  # a synth of every topology of its own, cfn-guard included (~5 s)
def test_every_exemption_is_still_needed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN every topology with the defaults and no control exempted
    monkeypatch.setattr(
        "stacks.topologies.control_tower_checks", lambda: control_tower_checks(exempt=())
    )
    app = new_app(context={**cdk_json_context(), "topology": "all"}, outdir=str(tmp_path))
    add_topologies(app)
    # WHEN synthesized (the findings fail synth; the report is written first)
    with pytest.raises(RuntimeError):
        app.synth()
    # THEN exactly the exempted controls fail: a fixed one must leave the table
    assert sorted(_failing_controls(tmp_path)) == sorted(EXEMPT_CONTROLS)


@pytest.mark.slow  # a synth of its own, cfn-guard included (~2 s)
def test_a_control_tower_finding_fails_synth(tmp_path: Path) -> None:
    # GIVEN an alarm without an action (CT.CLOUDWATCH.PR.1) in a stack of the app
    app = new_app(context={**cdk_json_context(), "topology": "lambdas"}, outdir=str(tmp_path))
    add_topologies(app)
    alarm_stack = Stack(app, "Odd")
    metric = cloudwatch.Metric(namespace="Odd", metric_name="Odd")
    cloudwatch.Alarm(alarm_stack, "Silent", metric=metric, threshold=1, evaluation_periods=1)
    # WHEN synthesized, THEN synth fails on it
    with pytest.raises(RuntimeError):
        app.synth()
    assert "Odd/Silent/Resource" in _failing_controls(tmp_path)["CT.CLOUDWATCH.PR.1"]
