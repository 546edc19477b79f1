"""A task's duration against the Lambda function that runs it: its template timeout.

"Configure Lambda function timeout" (Lambda developer guide): a function may run for at
most 900 s, and for at most its configured timeout; a longer run is stopped, so an
option whose function times out before the task ends cannot run that task.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from comparison.cost.estimate import compare
from comparison.decide.decision import decide, judge, time_limits
from comparison.errors import WorkloadError
from comparison.inputs.prices import known_regions
from comparison.inputs.scenario import Scenario
from comparison.inputs.workload import Workload, parse_workload
from comparison.model.resources import FunctionModel


def _lengthen(workload: Workload, task: str, seconds: float) -> Workload:
    return replace(
        workload,
        tasks=tuple(
            replace(t, duration_seconds=seconds) if t.name == task else t for t in workload.tasks
        ),
    )


def test_the_limits_are_the_templates_timeouts(real_models) -> None:  # type: ignore[no-untyped-def]
    limits = time_limits(real_models["lambdas"])
    assert limits["generate-report"] == 840  # the construct's timeout, below Lambda's 900
    assert limits["property-bulk-upload"] == 900
    assert time_limits(real_models["worker-service"]) == {}  # no Lambda runs a task there


def test_a_run_longer_than_the_functions_timeout_rules_the_option_out(
    real_models, workload, london, assumptions
) -> None:  # type: ignore[no-untyped-def]
    # GIVEN generate-report running 870 s: under Lambda's 900 s, over its function's 840 s
    longer = _lengthen(workload, "generate-report", 870.0)
    lambdas = real_models["lambdas"]
    result = compare(
        [lambdas],
        Scenario(workload=longer, prices=london, assumptions=assumptions, free_tier=False),
    )
    verdict = decide(result).verdict("lambdas")
    assert verdict.too_long == ("generate-report",)
    assert not verdict.eligible
    assert "timeout of the Lambda function" in verdict.why_not


def test_the_timeout_binds_where_the_template_sets_it_below_the_catalogue(
    real_models, workload, london, assumptions
) -> None:  # type: ignore[no-untyped-def]
    # GIVEN a lambdas stack whose report function times out at 300 s, and 400 s reports
    model = real_models["lambdas"]
    shorter = tuple(
        replace(r, timeout_seconds=300.0)
        if isinstance(r, FunctionModel) and r.task == "generate-report"
        else r
        for r in model.resources
    )
    consumers = tuple(
        replace(c, resource=next(r for r in shorter if r.logical_id == c.logical_id))
        for c in model.routing.consumers
    )
    short = replace(model, resources=shorter, routing=replace(model.routing, consumers=consumers))
    longer = _lengthen(workload, "generate-report", 400.0)
    verdict = judge(short, complete=True, cost=1.0, idle=0.0, latency=None, workload=longer)
    assert verdict.too_long == ("generate-report",)
    assert judge(model, complete=True, cost=1.0, idle=0.0, latency=None, workload=longer).eligible


def test_a_duration_above_the_catalogues_maximum_is_refused() -> None:
    with pytest.raises(WorkloadError) as refused:
        parse_workload(
            {"tasks": {"generate-report": {"volume_per_month": 10, "duration_seconds": 870}}},
            known_regions=known_regions(),
        )
    assert "generate-report" in str(refused.value) and "870" in str(refused.value)
