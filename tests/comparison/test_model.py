"""The typed topology model: read once from a template, with CloudFormation's defaults
for absent properties, and nothing raw left in it."""

from __future__ import annotations

import dataclasses
import re
from types import ModuleType

import pytest

from comparison.model import resources, routing, scaling, topology, triggers
from comparison.model.resources import FunctionModel, QueueModel, ServiceModel
from comparison.simulate.capacity import ACCOUNT_CONCURRENCY, lambda_cap
from tests.comparison.helpers import arn, event_source, model_of, ref, resource, template


def _function(model: topology.TopologyModel, logical_id: str) -> FunctionModel:
    found = model.resource(logical_id)
    assert isinstance(found, FunctionModel)
    return found


def test_a_function_without_size_properties_gets_cloudformations_defaults(workload) -> None:
    # AWS::Lambda::Function (CloudFormation User Guide): MemorySize defaults to 128 MB,
    # Timeout to 3 seconds, Architectures to x86_64.
    model = model_of(template({"Fn": resource("AWS::Lambda::Function")}), workload)
    function = _function(model, "Fn")
    assert (function.memory_mib, function.timeout_seconds) == (128, 3.0)
    assert function.architecture == "x86_64" and not function.in_vpc


def test_a_function_reads_its_memory_timeout_and_architecture(workload) -> None:
    props = {"MemorySize": 2048, "Timeout": 840, "Architectures": ["arm64"], "VpcConfig": {}}
    model = model_of(template({"Fn": resource("AWS::Lambda::Function", props)}), workload)
    function = _function(model, "Fn")
    assert (function.memory_mib, function.memory_gb, function.timeout_seconds) == (2048, 2, 840)
    assert function.architecture == "arm64" and function.in_vpc


@pytest.mark.parametrize(
    ("mapping_cap", "reserved", "cap"),
    [(2, 5, 2), (None, 5, 5), (None, None, ACCOUNT_CONCURRENCY)],
)
def test_lambda_cap_is_the_event_sources_then_reserved_then_the_account_quota(
    workload, mapping_cap: int | None, reserved: int | None, cap: int
) -> None:
    # MaximumConcurrency on an SQS event source caps the concurrent invocations that source
    # makes (Lambda developer guide, "Configuring maximum concurrency for Amazon SQS event
    # sources", which advises keeping it at or below reserved concurrency); the model takes
    # it first. Not re-checked against the page offline.
    function = {} if reserved is None else {"ReservedConcurrentExecutions": reserved}
    mapping = event_source("Fn", "Queue")
    if mapping_cap is not None:
        mapping["Properties"]["ScalingConfig"] = {"MaximumConcurrency": mapping_cap}
    stack = template(
        {
            "Queue": resource("AWS::SQS::Queue"),
            "Fn": resource("AWS::Lambda::Function", function),
            "Esm": mapping,
        }
    )
    assert lambda_cap(_function(model_of(stack, workload), "Fn")) == cap


def test_queues_know_whether_they_are_dead_letter_queues_and_who_polls_them(workload) -> None:
    stack = template(
        {
            "Dlq": resource("AWS::SQS::Queue"),
            "Queue": resource(
                "AWS::SQS::Queue", {"RedrivePolicy": {"deadLetterTargetArn": arn("Dlq")}}
            ),
            "Fn": resource("AWS::Lambda::Function"),
            "Esm": event_source("Fn", "Queue"),
        }
    )
    queues = {q.logical_id: q for q in model_of(stack, workload).of_kind(QueueModel)}
    assert queues["Dlq"].dead_letter and not queues["Queue"].dead_letter
    assert (queues["Queue"].event_source_mappings, queues["Dlq"].event_source_mappings) == (1, 0)


def test_a_service_reads_its_task_definition_size(workload) -> None:
    stack = template(
        {
            "Definition": resource(
                "AWS::ECS::TaskDefinition",
                {"Cpu": "1024", "Memory": "3072", "RuntimePlatform": {"CpuArchitecture": "ARM64"}},
            ),
            "Service": resource("AWS::ECS::Service", {"TaskDefinition": ref("Definition")}),
        }
    )
    service = model_of(stack, workload).resource("Service")
    assert isinstance(service, ServiceModel)
    assert (service.vcpu, service.memory_gb, service.architecture) == (1.0, 3.0, "arm64")
    assert service.desired_count is None and service.scaling is None


def test_building_a_model_twice_reads_the_template_twice(real_templates, workload) -> None:
    stack = real_templates["lambdas"]
    first, second = model_of(stack, workload), model_of(stack, workload)
    assert first == second
    assert first is not second  # no cache: the caller keeps the one it built


_RAW = re.compile(r"\b(StackTemplate|Resource|Mapping\[str, Any\])\b")


@pytest.mark.parametrize("module", [resources, routing, scaling, topology, triggers])
def test_no_model_field_holds_a_raw_template_value(module: ModuleType) -> None:
    classes = [
        value
        for value in vars(module).values()
        if dataclasses.is_dataclass(value)
        and isinstance(value, type)
        and value.__module__ == module.__name__
    ]
    assert classes, module
    for cls in classes:
        for field in dataclasses.fields(cls):
            assert not _RAW.search(str(field.type)), f"{cls.__name__}.{field.name}: {field.type}"
