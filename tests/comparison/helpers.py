"""Builders for small hand-written templates and usage contexts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from comparison.cost.usage import Usage, UsageContext, extract_usage
from comparison.inputs.assumptions import DEFAULT_ASSUMPTIONS, Assumptions
from comparison.inputs.templates import StackTemplate, parse_template
from comparison.inputs.workload import Workload
from comparison.model.topology import TopologyModel, topology_models
from comparison.simulate.simulation import ConsumerRun


def template(resources: Mapping[str, Mapping[str, Any]], stack_id: str = "Test") -> StackTemplate:
    return parse_template(stack_id, {"Resources": resources})


def resource(
    type_: str, properties: Mapping[str, Any] | None = None, **metadata: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"Type": type_, "Properties": dict(properties or {})}
    if metadata:
        body["Metadata"] = {"AsyncTasks": metadata}
    return body


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def arn(logical_id: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def event_source(function: str, queue: str) -> dict[str, Any]:
    """An SQS event source mapping feeding ``function`` from ``queue``."""
    return resource(
        "AWS::Lambda::EventSourceMapping",
        {"FunctionName": ref(function), "EventSourceArn": arn(queue)},
    )


def model_of(
    stack: StackTemplate, workload: Workload, assumptions: Assumptions = DEFAULT_ASSUMPTIONS
) -> TopologyModel:
    """The stack's topology model, routing the workload's tasks."""
    (model,) = topology_models([stack], workload, assumptions)
    return model


def context(
    stack: StackTemplate,
    workload: Workload,
    runs: Mapping[str, ConsumerRun] | None = None,
    assumptions: Assumptions = DEFAULT_ASSUMPTIONS,
) -> UsageContext:
    return UsageContext(
        model_of(stack, workload, assumptions), workload, assumptions, dict(runs or {})
    )


def usage_of(usages: list[Usage], key: str) -> float:
    return sum(u.quantity for u in usages if u.price_key == key)


def extracted(stack: StackTemplate, workload: Workload, **kwargs: Any) -> list[Usage]:
    return extract_usage(context(stack, workload, **kwargs))


def day_run(
    unit_seconds: float = 0.0, cold_starts: float = 0, runs: int = 0, starts: float = 0
) -> ConsumerRun:
    """A simulated day: ``runs`` messages, of which ``cold_starts`` met no warm environment."""
    return ConsumerRun(
        waits=(0.0,) * runs,
        unit_seconds=unit_seconds,
        peak_units=0,
        cold_starts=cold_starts,
        starts=starts,
        wait_tasks=("t",) * runs,
    )


def without_waker(template: StackTemplate) -> StackTemplate:
    """The template as ``-c wakeOnEnqueue=false`` leaves it, for the scaling model: no
    waker function (its twins and second targets do not change the model)."""
    return replace(
        template, resources={k: r for k, r in template.resources.items() if r.role != "waker"}
    )
