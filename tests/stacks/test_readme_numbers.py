"""Every number README.md quotes about the templates matches the synthesized templates.

Prose numbers sit between ``<!-- generated:NAME -->`` markers and are rewritten by
``scripts/readme-numbers`` (comparison/inputs/readme_numbers.py); the task catalogue table is
checked cell by cell against the lambdas template. A drift in either fails here.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from comparison.inputs import readme_numbers as rn
from comparison.inputs.prices import load_price_table
from comparison.inputs.templates import StackTemplate, parse_template, ref_target
from runtime.contract import TASK_DETAIL, ResourceRole
from tests.conftest import SynthesizedApp

README = rn.README.read_text()
# Long: the fixture below synthesizes the endpoints-network variant (~2 s) for this module.
pytestmark = pytest.mark.slow


PRICES = load_price_table(rn.PRICE_REGION)


def _parsed(documents: dict[str, dict[str, Any]]) -> dict[str, StackTemplate]:
    """Templates as the generator reads them: by topology name, from their stamps."""
    return rn.by_name(parse_template(stack_id, doc) for stack_id, doc in documents.items())


@pytest.fixture(scope="module")
def templates(synthesized: SynthesizedApp) -> dict[str, dict[str, StackTemplate]]:
    endpoints = rn.synth_templates(["endpoints"])["endpoints"]
    return {"defaults": _parsed(synthesized.templates), "endpoints": endpoints}


@pytest.fixture(scope="module")
def values(templates: dict[str, dict[str, StackTemplate]]) -> dict[str, str]:
    return rn.compute(templates, PRICES)


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
    synthesized: SynthesizedApp,
    templates: dict[str, dict[str, StackTemplate]],
    values: dict[str, str],
) -> None:
    documents = copy.deepcopy(synthesized.templates)
    worker = documents["AsyncTasks-WorkerService"]
    for resource in worker["Resources"].values():
        config = resource.get("Properties", {}).get("TargetTrackingScalingPolicyConfiguration", {})
        if "CustomizedMetricSpecification" in config:
            config["TargetValue"] = 9.95
    drifted = {**templates, "defaults": _parsed(documents)}
    again = rn.compute(drifted, PRICES)
    assert again["backlog-target"] == "9.95" != values["backlog-target"]
    assert rn.rewrite(README, again) != rn.rewrite(README, values)


def test_an_unknown_marker_is_refused() -> None:
    with pytest.raises(rn.ReadmeNumbersError, match=r"^markers with no generator: \['nothing'\]"):
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

    lambdas = _parsed(synthesized.templates)["lambdas"]
    rows = _catalogue_rows()
    assert set(rows) == set(CATALOGUE), "the table must list every catalogue task"
    schedules = [r.properties for r in lambdas.of_type("AWS::Scheduler::Schedule")]
    for function in lambdas.with_role(ResourceRole.TASK):
        name = function.meta(TASK_DETAIL)
        _, triggers, max_duration, memory, receives, cap = rows[name]
        props = function.properties
        mapping = rn.one(
            lambdas.referrers(function.logical_id, "AWS::Lambda::EventSourceMapping"),
            f"{name}'s event source",
        ).properties
        queue = lambdas.resources[str(ref_target(mapping["EventSourceArn"]))].properties
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
