"""Fargate usage: task-hours from the simulation or the desired count, size from the task
definition, public IPs, and the web app's own baseline left out."""

from __future__ import annotations

import pytest

from tests.comparison.helpers import day_run, extracted, ref, resource, template, usage_of


def _service_stack(role: str, desired: int = 1, public_ip: bool = False, **metadata):  # type: ignore[no-untyped-def]
    network = {"AwsvpcConfiguration": {"AssignPublicIp": "ENABLED" if public_ip else "DISABLED"}}
    return template(
        {
            "Definition": resource(
                "AWS::ECS::TaskDefinition",
                {"Cpu": "512", "Memory": "1024", "RuntimePlatform": {"CpuArchitecture": "ARM64"}},
            ),
            "Service": resource(
                "AWS::ECS::Service",
                {
                    "TaskDefinition": ref("Definition"),
                    "DesiredCount": desired,
                    "NetworkConfiguration": network,
                },
                role=role,
                **metadata,
            ),
        }
    )


def test_service_without_simulation_runs_its_desired_count_all_month(workload) -> None:
    usages = extracted(_service_stack("endpoint", desired=2), workload.scaled(0))
    assert usage_of(usages, "fargate.vcpu_hour.arm64") == pytest.approx(2 * 730 * 0.5)
    assert usage_of(usages, "fargate.gb_hour.arm64") == pytest.approx(2 * 730 * 1.0)


def test_simulated_task_seconds_become_monthly_task_hours(workload) -> None:
    stack = _service_stack("worker", desired=0, pollerThreads=1)
    usages = extracted(stack, workload, runs={"Service": day_run(unit_seconds=2 * 3600)})
    assert usage_of(usages, "fargate.vcpu_hour.arm64") == pytest.approx(2 * 730 / 24 * 0.5)


def test_public_ip_on_tasks_is_billed_per_task_hour(workload) -> None:
    usages = extracted(_service_stack("endpoint", public_ip=True), workload.scaled(0))
    assert usage_of(usages, "ipv4.hour") == pytest.approx(730)


def test_web_app_pays_only_for_capacity_beyond_its_own_baseline(workload) -> None:
    # GIVEN the workload's web app is 2 tasks of 1 vCPU / 2 GB; the template's tasks are 0.5 / 1
    stack = _service_stack("webapp", desired=4, pollerThreads=2)
    usages = extracted(
        stack, workload.scaled(0), runs={"Service": day_run(unit_seconds=4 * 86_400)}
    )
    # 4 x 0.5 vCPU all month equals the baseline's 2 x 1 vCPU: nothing extra
    assert usage_of(usages, "fargate.vcpu_hour.arm64") == 0
    assert usage_of(usages, "fargate.gb_hour.arm64") == 0


def test_web_app_without_poller_threads_is_not_a_consumer(workload) -> None:
    usages = extracted(_service_stack("webapp", desired=2), workload)
    assert usage_of(usages, "logs.ingestion_gb") == 0


def test_arm64_task_definitions_are_priced_at_the_arm_fargate_rates(workload, london) -> None:
    from comparison.cost.costing import price_usage

    usages = extracted(_service_stack("endpoint", desired=2), workload.scaled(0))
    costs = {i.price_key: i.cost for i in price_usage(usages, london, free_tier=False).items}
    # eu-west-2 Linux/ARM: 2 tasks x 730 h x 0.5 vCPU x $0.03725 = $27.1925
    assert costs["fargate.vcpu_hour.arm64"] == pytest.approx(2 * 730 * 0.5 * 0.03725)
    # and 2 x 730 h x 1 GB x $0.00409 = $5.9714
    assert costs["fargate.gb_hour.arm64"] == pytest.approx(2 * 730 * 1.0 * 0.00409)
    assert "fargate.vcpu_hour.x86_64" not in costs


def test_service_without_desired_count_runs_its_minimum_capacity(workload) -> None:
    stack = template(
        {
            "Definition": resource("AWS::ECS::TaskDefinition", {"Cpu": "256", "Memory": "512"}),
            "Service": resource(
                "AWS::ECS::Service", {"TaskDefinition": ref("Definition")}, role="endpoint"
            ),
            "Target": resource(
                "AWS::ApplicationAutoScaling::ScalableTarget",
                {
                    "MinCapacity": 1,
                    "MaxCapacity": 4,
                    "ResourceId": {"Fn::GetAtt": ["Service", "Name"]},
                },
            ),
        }
    )
    usages = extracted(stack, workload.scaled(0))
    assert usage_of(usages, "fargate.vcpu_hour.x86_64") == pytest.approx(1 * 730 * 0.25)
