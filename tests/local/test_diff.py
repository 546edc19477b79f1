"""``scripts/diff``: a reviewer sees offline what a change does to a topology."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from local.diff import snapshot_path, template_diff
from tests.local.helpers import PROJECT_ROOT

pytestmark = pytest.mark.slow

COMMAND = str(PROJECT_ROOT / "scripts" / "diff")
QUEUE = "TasksgeneratereportQueue7C77DCF6"


def test_diff_names_each_resource_and_property_a_change_touches(tmp_path: Path) -> None:
    # GIVEN a snapshot that differs from the tree: one property, one resource added in
    # the tree (removed here), one resource the tree no longer has (added here)
    snapshot = json.loads(snapshot_path("AsyncTasks-Lambdas").read_text())
    resources = snapshot["Resources"]
    visibility = resources[QUEUE]["Properties"]["VisibilityTimeout"]
    resources[QUEUE]["Properties"]["VisibilityTimeout"] = visibility + 1
    removed_id = "TasksgeneratereportQueueOldestMessageAgeCF105A0F"
    removed = resources.pop(removed_id)
    resources["Gone"] = {"Type": "AWS::SNS::Topic", "Properties": {}}
    edited = tmp_path / "snapshot.json"
    edited.write_text(json.dumps(snapshot))

    # WHEN the reviewer diffs the tree against it
    result = subprocess.run(
        [COMMAND, "lambdas", "--snapshot", str(edited)],
        capture_output=True,
        text=True,
        timeout=300,
    )

    # THEN exit 1 and exactly those three changes, with old and new values
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("AsyncTasks-Lambdas: 3 change(s) against ")
    assert f"[~] Resources {QUEUE} (AWS::SQS::Queue)" in lines
    assert f"    ~ Properties.VisibilityTimeout: {visibility + 1} -> {visibility}" in lines
    assert f"[+] Resources {removed_id} ({removed['Type']})" in lines
    assert "[-] Resources Gone (AWS::SNS::Topic)" in lines
    assert len([line for line in lines if line.startswith("[")]) == 3


def test_diff_against_the_committed_snapshot_ignores_asset_hashes() -> None:
    # The snapshot test's normalization: a runtime edit alone changes no line here.
    result = subprocess.run([COMMAND, "all"], capture_output=True, text=True, timeout=300)
    assert result.returncode in (0, 1), result.stderr
    assert not re.search(r"[0-9a-f]{64}", result.stdout), result.stdout[:3000]
    for stack_id in ("AsyncTasks-Lambdas", "AsyncTasks-WebappPoller"):
        assert f"{stack_id}: " in result.stdout


def test_template_diff_reports_list_and_nested_changes() -> None:
    old = {"Resources": {"A": {"Type": "T", "Properties": {"L": [1, 2], "M": {"x": 1}}}}}
    new = {"Resources": {"A": {"Type": "T", "Properties": {"L": [1, 2, 3], "M": {"y": 1}}}}}
    assert template_diff(old, new) == [
        "[~] Resources A (T)",
        "    ~ Properties.L: [1, 2] -> [1, 2, 3]",
        "    - Properties.M.x: 1",
        "    + Properties.M.y: 1",
    ]


def test_a_bad_topology_is_one_line_at_once() -> None:
    result = subprocess.run([COMMAND, "lamdas"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "invalid choice: 'lamdas'" in result.stderr
