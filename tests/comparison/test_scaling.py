"""Scaling parameters read from Application Auto Scaling resources (CDK-synthesized fixtures)."""

from __future__ import annotations

from comparison.model.resources import ServiceModel
from comparison.model.scaling import ScalingMetric, StepMetric, scaling_params
from comparison.model.topology import TopologyModel
from tests.comparison.fixture_stacks import WORKER_TARGET


def _service(model: TopologyModel, role: str) -> ServiceModel:
    return next(s for s in model.of_kind(ServiceModel) if s.role == role)


def test_worker_rule_comes_from_the_template(fixture_models, assumptions) -> None:
    stack = fixture_models["Fixture-WorkerService"]
    params = scaling_params(_service(stack, "worker"), assumptions, default_target=99)
    assert (params.min_capacity, params.max_capacity) == (0, 10)
    assert params.metric is ScalingMetric.BACKLOG
    assert params.target == WORKER_TARGET
    assert (params.scale_in_cooldown_seconds, params.scale_out_cooldown_seconds) == (60, 60)
    wake = params.wake_up
    assert wake is not None
    assert (wake.period_seconds, wake.datapoints_to_alarm, wake.threshold) == (60, 1, 0)
    assert wake.metric is StepMetric.WAKE_UP
    assert (wake.exact, wake.adjustment, wake.cooldown_seconds) == (False, 1, 60)


def test_endpoint_tracks_cpu_between_one_and_four(fixture_models, assumptions) -> None:
    stack = fixture_models["Fixture-PrivateEndpoints"]
    params = scaling_params(_service(stack, "endpoint"), assumptions, default_target=50)
    assert params.metric is ScalingMetric.CPU
    assert (params.min_capacity, params.max_capacity, params.target) == (1, 4, 70)
    assert params.wake_up is None


def test_service_without_scalable_target_keeps_its_desired_count(workload, assumptions) -> None:
    from tests.comparison.helpers import model_of, resource, template

    stack = template({"Service": resource("AWS::ECS::Service", {"DesiredCount": 3})})
    service = model_of(stack, workload).resource("Service")
    assert isinstance(service, ServiceModel)
    params = scaling_params(service, assumptions, default_target=1)
    assert params.metric is ScalingMetric.NONE
    assert params.min_capacity == params.max_capacity == 3


def test_task_size_and_architecture_come_from_the_task_definition(fixture_models) -> None:
    worker = _service(fixture_models["Fixture-WorkerService"], "worker")
    assert (worker.vcpu, worker.memory_gb, worker.architecture) == (0.5, 1.0, "arm64")
