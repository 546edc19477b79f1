"""Every number README.md quotes about the templates matches the synthesized templates.

Prose numbers sit between ``<!-- generated:NAME -->`` markers and are rewritten by
``scripts/readme-numbers`` (tests/stacks/readme_numbers.py); the task catalogue table is
checked cell by cell against the lambdas template. A drift in either fails here.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SynthesizedApp
from tests.stacks import readme_numbers as rn

README = rn.README.read_text()
# Long: the fixture below synthesizes the endpoints-network variant (~2 s) for this module.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def templates(synthesized: SynthesizedApp) -> dict[str, dict[str, Any]]:
    endpoints = rn.synth_templates(["endpoints"])["endpoints"]
    return {"defaults": synthesized.templates, "endpoints": endpoints}


@pytest.fixture(scope="module")
def values(templates: dict[str, dict[str, Any]]) -> dict[str, str]:
    return rn.compute(templates, json.loads(rn.PRICES.read_text()))


@pytest.mark.parametrize("document", rn.DOCUMENTS, ids=lambda path: path.name)
def test_every_generated_number_matches_the_templates(
    document: Path, values: dict[str, str]
) -> None:
    stale = [
        f"{name}: {document.name} has {quoted!r}, templates give {values.get(name)!r}"
        for name, quoted in rn.markers(document.read_text())
        if quoted != values.get(name)
    ]
    assert not stale, "run scripts/readme-numbers:\n" + "\n".join(stale)


def test_every_generated_number_is_quoted(values: dict[str, str]) -> None:
    quoted = {name for document in rn.DOCUMENTS for name, _ in rn.markers(document.read_text())}
    unused = sorted(set(values) - quoted)
    assert not unused, f"numbers computed but quoted nowhere: {unused}"


def test_a_drifted_template_changes_the_numbers(
    templates: dict[str, dict[str, Any]], values: dict[str, str]
) -> None:
    drifted = copy.deepcopy(templates)
    worker = drifted["defaults"]["AsyncTasks-WorkerService"]
    for resource in rn.resources(worker, "AWS::ApplicationAutoScaling::ScalingPolicy").values():
        config = resource["Properties"].get("TargetTrackingScalingPolicyConfiguration", {})
        if "CustomizedMetricSpecification" in config:
            config["TargetValue"] = 9.95
    again = rn.compute(drifted, json.loads(rn.PRICES.read_text()))
    assert again["backlog-target"] == "9.95" != values["backlog-target"]
    assert rn.rewrite(README, again) != rn.rewrite(README, values)


def test_an_unknown_marker_is_refused() -> None:
    with pytest.raises(AssertionError, match="no generator"):
        rn.rewrite("<!-- generated:nothing -->1<!-- /generated -->", {})


def test_the_backlog_target_is_the_documented_formula(values: dict[str, str]) -> None:
    from runtime.catalogue import CATALOGUE

    mean = sum(t.expected_duration_seconds for t in CATALOGUE.values()) / len(CATALOGUE)
    threads = int(values["worker-threads"])
    # acceptable latency (the construct's default, 5 minutes) / mean x threads
    assert float(values["backlog-target"]) == round(300 / mean * threads, 2)
    assert f"({mean:g} s)" in README, f"README should quote the mean expected duration {mean:g} s"


def test_the_custom_metric_count_is_what_the_runtime_publishes() -> None:
    from runtime.backlog_metric import METRIC_UNITS

    quoted = re.search(r"runs a month, (\w+) custom metrics", README)
    assert quoted, "README should say how many custom metrics the metric Lambda publishes"
    assert quoted.group(1) == rn.words(len(METRIC_UNITS))


def _catalogue_rows() -> dict[str, list[str]]:
    _, _, rest = README.partition("\n## The task catalogue\n")
    rows = {}
    for line in rest.split("\n## ", 1)[0].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 6:
            rows[cells[0].strip("`")] = cells
    return rows


def test_catalogue_table_matches_the_lambdas_template(synthesized: SynthesizedApp) -> None:
    from runtime.catalogue import CATALOGUE
    from runtime.contract.retry_budget import redrive_max_receive_count

    lambdas = synthesized.templates["AsyncTasks-Lambdas"]
    rows = _catalogue_rows()
    assert set(rows) == set(CATALOGUE), "the table must list every catalogue task"
    mappings = rn.resources(lambdas, "AWS::Lambda::EventSourceMapping").values()
    schedules = [
        r["Properties"] for r in rn.resources(lambdas, "AWS::Scheduler::Schedule").values()
    ]
    for function_id, function in rn.with_role(lambdas, "task").items():
        name = function["Metadata"]["AsyncTasks"]["task"]
        _, triggers, max_duration, memory, receives, cap = rows[name]
        props = function["Properties"]
        mapping = rn.one(
            [m["Properties"] for m in mappings if rn._refers_to(m["Properties"], function_id)],
            f"{name}'s event source",
        )
        queue_id = mapping["EventSourceArn"]["Fn::GetAtt"][0]
        queue = lambdas["Resources"][queue_id]["Properties"]
        got_cap = mapping.get("ScalingConfig", {}).get("MaximumConcurrency")
        assert memory == f"{props['MemorySize']} MiB", name
        # the runtime's retry budget, and the queue's backstop from the one rule
        attempts, backstop = receives.replace("(", "").replace(")", "").split()
        assert int(attempts) == CATALOGUE[name].max_receive_count, name
        assert int(backstop) == queue["RedrivePolicy"]["maxReceiveCount"], name
        assert int(backstop) == redrive_max_receive_count(int(attempts)), name
        assert cap == (str(got_cap) if got_cap else "none"), name
        # The function's timeout is its batch of maximum durations.
        assert max_duration == f"{props['Timeout'] // mapping['BatchSize']} s", name
        for schedule in schedules:
            if json.loads(schedule["Target"]["Input"])["task"] == name:
                expected = (
                    f"`{schedule['ScheduleExpression']}` {schedule['ScheduleExpressionTimezone']}"
                )
                assert expected in triggers, f"{name}: README should say {expected}"
