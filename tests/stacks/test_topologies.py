"""The topology flag, and the gates every topology's template must pass."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_sqs as sqs
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from runtime.contract import METADATA_KEY
from runtime.contract.topology import BY_STACK_ID, TOPOLOGY_DETAIL, from_stamp
from runtime.contract.topology import TOPOLOGIES as CONTRACT_TOPOLOGIES
from stacks.topologies import (
    DEFAULT_TOPOLOGY,
    TOPOLOGIES,
    UnknownTopologyError,
    add_topologies,
    new_app,
    selected_topologies,
)
from tests.conftest import PROJECT_ROOT, SynthesizedApp, cdk_json_context

_ASSET_HASH = re.compile(r"[0-9a-f]{64}")


def _normalized(template: dict[str, Any]) -> Any:
    """The template with asset hashes replaced, so runtime edits do not churn snapshots."""
    return json.loads(_ASSET_HASH.sub("<asset-hash>", json.dumps(template, sort_keys=True)))


def test_design_names_map_to_design_stack_ids() -> None:
    assert {name: topology.stack_id for name, topology in TOPOLOGIES.items()} == {
        "private-endpoints": "AsyncTasks-PrivateEndpoints",
        "worker-service": "AsyncTasks-WorkerService",
        "webapp-poller": "AsyncTasks-WebappPoller",
        "lambdas": "AsyncTasks-Lambdas",
    }


def test_the_apps_topologies_are_the_contracts_in_its_order() -> None:
    assert [t.identity for t in TOPOLOGIES.values()] == list(CONTRACT_TOPOLOGIES)


def test_every_stack_is_stamped_with_its_contract_identity(synthesized: SynthesizedApp) -> None:
    stamps = {
        stack_id: from_stamp(template["Metadata"][METADATA_KEY][TOPOLOGY_DETAIL])
        for stack_id, template in synthesized.templates.items()
    }
    assert stamps == {stack_id: BY_STACK_ID[stack_id] for stack_id in synthesized.templates}
    assert len(stamps) == len(BY_STACK_ID)


def test_no_flag_selects_the_adrs_decision_webapp_poller() -> None:
    assert DEFAULT_TOPOLOGY == "webapp-poller"
    assert [t.name for t in selected_topologies(None)] == ["webapp-poller"]


def test_all_selects_the_four_topologies() -> None:
    assert [t.name for t in selected_topologies("all")] == list(TOPOLOGIES)


def test_unknown_topology_error_names_the_valid_values() -> None:
    with pytest.raises(
        UnknownTopologyError,
        match=r"^unknown topology 'lamdas'; valid values: private-endpoints, worker-service, "
        r"webapp-poller, lambdas, all$",
    ):
        selected_topologies("lamdas")


@pytest.mark.slow  # end-to-end: app.py in a fresh process (the message: the test above)
def test_unknown_topology_fails_synth_with_one_clear_line() -> None:
    # GIVEN the CDK CLI's way of passing context WHEN app.py runs with a bad topology
    context = {**cdk_json_context(), "topology": "fargate"}
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": "/nonexistent"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    # THEN it exits non-zero with exactly one line naming the valid values
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: unknown topology 'fargate'; valid values: private-endpoints, "
        "worker-service, webapp-poller, lambdas, all"
    )
    assert "Traceback" not in result.stderr


def test_single_topology_synthesizes_only_its_stack() -> None:
    app = new_app(context={**cdk_json_context(), "topology": "lambdas"})
    stacks = add_topologies(app)
    assert [stack.stack_name for stack in stacks] == ["AsyncTasks-Lambdas"]


def test_region_defaults_to_eu_west_2_and_account_comes_from_context() -> None:
    app = new_app(context={**cdk_json_context(), "topology": "lambdas", "account": "123456789012"})
    (stack,) = add_topologies(app)
    assert stack.region == "eu-west-2"
    assert stack.account == "123456789012"


def test_all_synthesizes_four_stacks(synthesized: SynthesizedApp, topology_ids: list[str]) -> None:
    assert sorted(synthesized.templates) == sorted(topology_ids)


@pytest.mark.parametrize("stack_id", [t.stack_id for t in TOPOLOGIES.values()])
def test_template_matches_snapshot(
    synthesized: SynthesizedApp, stack_id: str, snapshot: SnapshotAssertion
) -> None:
    template = _normalized(synthesized.templates[stack_id])
    assert template == snapshot(extension_class=JSONSnapshotExtension)


def test_cdk_nag_reports_no_unacknowledged_findings(synthesized: SynthesizedApp) -> None:
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    assert report["pluginReports"] == []


def test_cdk_nag_gate_fails_synth_on_a_real_finding() -> None:
    # GIVEN a queue without a DLQ or TLS policy under the same checks as the app
    app = new_app(context={**cdk_json_context(), "topology": "lambdas"})
    add_topologies(app)
    sqs.Queue(Stack(app, "Careless"), "Queue")
    # THEN synth refuses it
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()


def _cfn_lint(*templates: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--non-zero-exit-code",
            "error",
            *map(str, templates),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow  # long: cfn-lint takes 2-4 s a template (the snapshots catch any change)
@pytest.mark.parametrize("stack_id", [t.stack_id for t in TOPOLOGIES.values()])
def test_cfn_lint_reports_no_errors(synthesized: SynthesizedApp, stack_id: str) -> None:
    result = _cfn_lint(synthesized.template_path(stack_id))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow  # long: a second synth of every topology, then cfn-lint on it (~10 s)
def test_opt_in_variant_passes_cdk_nag_and_cfn_lint(tmp_path: Path) -> None:
    # GIVEN every opt-in switched on: endpoints instead of NAT, and malware scanning
    context = {"topology": "all", "network": "endpoints", "malwareProtection": True}
    app = new_app(context={**cdk_json_context(), **context}, outdir=str(tmp_path))
    add_topologies(app)
    # WHEN synthesized, THEN cdk-nag lets it through and cfn-lint finds no error
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert report["pluginReports"] == []
    result = _cfn_lint(*sorted(tmp_path.glob("*.template.json")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_lists_every_acknowledged_cdk_nag_rule(synthesized: SynthesizedApp) -> None:
    # Only the cdk-nag packs' rules; CDK acknowledges some of its own validator's.
    acknowledged: set[str] = set()
    for metadata_file in synthesized.outdir.glob("*.metadata.json"):
        for entries in json.loads(metadata_file.read_text()).values():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    for key in entry["data"]:
                        rule = re.sub(r"^[A-Za-z]+::", "", key).split("[")[0]
                        if rule.startswith(("AwsSolutions-", "Serverless-")):
                            acknowledged.add(rule)
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert acknowledged, "expected acknowledgements in the assembly metadata"
    assert sorted(rule for rule in acknowledged if f"`{rule}" not in readme) == []


def _builtin_validator_findings(tmp_path: Path, **context: object) -> str:
    app = new_app(context=context, outdir=str(tmp_path))
    sqs.CfnQueue(Stack(app, "Odd"), "Queue", visibility_timeout=99_999)  # SQS max: 43,200
    app.synth()
    report = tmp_path / "validation-report.json"
    return report.read_text() if report.exists() else ""


@pytest.mark.slow  # long: CDK's built-in validator starts a WASM engine (~2 s)
def test_builtin_cloudformation_validation_is_off_unless_asked_for(tmp_path: Path) -> None:
    # cfn-lint covers every template in the tests; the built-in validator costs ~2 s
    assert "VisibilityTimeout" not in _builtin_validator_findings(tmp_path / "default")
    asked = _builtin_validator_findings(tmp_path / "asked", cfnValidation="true")
    assert "VisibilityTimeout" in asked
