"""checkov on every template: each failing check is one the README justifies, no more.

checkov (pinned in scripts/setup, in its own venv because its pins clash with the
project's) runs offline on the four default topologies and on two opt-in variants. The
set of failed check ids, and the resource types each fails on, must equal the README's
"### checkov findings, justified" table: a new finding or a fixed one fails here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT, SynthesizedApp, cdk_json_context

pytestmark = pytest.mark.slow

CHECKOV = PROJECT_ROOT / ".venv" / "checkov" / "bin" / "checkov"
README = PROJECT_ROOT / "README.md"
TABLE_HEADING = "### checkov findings, justified"
# The opt-in settings, in the combinations synth accepts (emailSender with
# network=endpoints is refused: SES's sending API has no VPC endpoint).
VARIANTS: dict[str, dict[str, str]] = {
    "endpoints-malware": {"network": "endpoints", "malwareProtection": "true"},
    "email-arm64": {"emailSender": "tasks@example.com", "fargateArchitecture": "arm64"},
}
_CFN_TYPE = re.compile(r"`(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)`")
_CHECK_ID = re.compile(r"`(CKV2?_AWS_\d+)`")


@dataclass(frozen=True)
class Row:
    checks: frozenset[str]
    types: frozenset[str]


def justified_rows(readme: str) -> list[Row]:
    """The README table's rows: the check ids of the first cell, the types of the second."""
    _, found, rest = readme.partition(f"\n{TABLE_HEADING}\n")
    assert found, f"README.md has no '{TABLE_HEADING}' section"
    lines = [line for line in rest.split("\n#", 1)[0].splitlines() if line.startswith("| `")]
    rows = []
    for line in lines:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == 3 and cells[2], f"row needs check, where and reason: {line}"
        row = Row(frozenset(_CHECK_ID.findall(cells[0])), frozenset(_CFN_TYPE.findall(cells[1])))
        assert row.checks and row.types, f"row needs check ids and `AWS::...` types: {line}"
        rows.append(row)
    assert rows, f"the '{TABLE_HEADING}' table has no rows"
    listed = [check for row in rows for check in row.checks]
    assert len(listed) == len(set(listed)), f"a check id is listed twice: {sorted(listed)}"
    return rows


def _templates_only(source: Path, target: Path) -> Path:
    """checkov reads every JSON file; give it the templates and nothing else."""
    target.mkdir(parents=True, exist_ok=True)
    templates = sorted(source.glob("*.template.json"))
    assert len(templates) == 4, f"expected four templates in {source}, found {templates}"
    for template in templates:
        shutil.copy(template, target / template.name)
    return target


def run_checkov(directory: Path) -> dict[str, set[str]]:
    """Failed check ids, each mapped to the resource types it failed on."""
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run scripts/setup, which installs checkov there")
    result = subprocess.run(
        [
            str(CHECKOV),
            *("--framework", "cloudformation", "--skip-download", "-d", str(directory)),
            *("-o", "json", "--quiet", "--compact"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # checkov exits 1 when a check fails; anything else is a crash.
    assert result.returncode in (0, 1), result.stderr
    reports: Any = json.loads(result.stdout)
    if isinstance(reports, dict):
        reports = [reports]
    failed: dict[str, set[str]] = {}
    scanned = 0
    for report in reports:
        assert report["summary"]["parsing_errors"] == 0, report["summary"]
        scanned += report["summary"]["resource_count"]
        for finding in report["results"]["failed_checks"]:
            resource_type = finding["resource"].split(".", 1)[0]
            failed.setdefault(finding["check_id"], set()).add(resource_type)
    assert scanned > 0, f"checkov scanned no resources in {directory}"
    return failed


def _assert_justified(findings: dict[str, set[str]], label: str) -> None:
    rows = justified_rows(README.read_text())
    allowed = {check: row.types for row in rows for check in row.checks}
    new = sorted(set(findings) - set(allowed))
    fixed = sorted(set(allowed) - set(findings))
    assert not new, (
        f"{label}: checkov fails {[(i, sorted(findings[i])) for i in new]}; fix or justify"
    )
    assert not fixed, f"{label}: {fixed} no longer fail; remove them from the README table"
    for check, types in findings.items():
        unlisted = types - allowed[check]
        assert not unlisted, f"{label}: {check} also fails on {sorted(unlisted)}; say why"


def _synth(context: dict[str, str], outdir: Path) -> Path:
    from stacks.topologies import add_topologies, new_app

    app = new_app(context={**cdk_json_context(), "topology": "all", **context}, outdir=str(outdir))
    add_topologies(app)
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def findings(
    synthesized: SynthesizedApp, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, set[str]]]:
    """checkov's failures on the defaults and on each opt-in variant, once per session."""
    found = {
        "defaults": run_checkov(_templates_only(synthesized.outdir, tmp_path_factory.mktemp("ckv")))
    }
    for name, context in VARIANTS.items():
        outdir = _synth(context, tmp_path_factory.mktemp(f"cdk.out-{name}"))
        found[name] = run_checkov(_templates_only(outdir, tmp_path_factory.mktemp("ckv")))
    return found


@pytest.mark.parametrize("variant", ["defaults", *sorted(VARIANTS)])
def test_templates_fail_exactly_the_justified_checks(
    variant: str, findings: dict[str, dict[str, set[str]]]
) -> None:
    _assert_justified(findings[variant], variant)


def test_each_row_names_only_resource_types_its_checks_fail_on(
    findings: dict[str, dict[str, set[str]]],
) -> None:
    seen: dict[str, set[str]] = {}
    for per_variant in findings.values():
        for check, types in per_variant.items():
            seen.setdefault(check, set()).update(types)
    for row in justified_rows(README.read_text()):
        failing = set().union(*(seen.get(check, set()) for check in row.checks))
        extra = sorted(row.types - failing)
        assert not extra, f"README row {sorted(row.checks)} names {extra}; checkov passes them"


def test_table_parser_reads_only_the_table() -> None:
    readme = (
        f"intro\n{TABLE_HEADING}\n\n| check | where | reason |\n|---|---|---|\n"
        "| `CKV_AWS_1`, `CKV_AWS_2` | `AWS::S3::Bucket` (logs) | why |\n"
        "| `CKV_AWS_3` | `AWS::SQS::Queue`, `AWS::SNS::Topic` | why |\n\n## Next\n"
        "| `CKV_AWS_9` | `AWS::S3::Bucket` | not in the table |\n"
    )
    assert justified_rows(readme) == [
        Row(frozenset({"CKV_AWS_1", "CKV_AWS_2"}), frozenset({"AWS::S3::Bucket"})),
        Row(frozenset({"CKV_AWS_3"}), frozenset({"AWS::SQS::Queue", "AWS::SNS::Topic"})),
    ]


def test_a_table_without_reasons_is_refused() -> None:
    readme = f"\n{TABLE_HEADING}\n| `CKV_AWS_1` | `AWS::S3::Bucket` |  |\n"
    with pytest.raises(AssertionError, match="reason"):
        justified_rows(readme)
