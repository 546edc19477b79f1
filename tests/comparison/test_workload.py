"""The workload file: defaults, patterns and errors that name the field, value and fix."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from comparison.errors import WorkloadError
from comparison.inputs.patterns import MINUTES_PER_DAY, hourly_shares
from comparison.inputs.workload import load_workload, parse_workload
from runtime.catalogue import CATALOGUE

REGIONS = frozenset({"eu-west-2", "us-east-1"})


def test_default_workload_loads_with_every_catalogue_task(workload) -> None:
    assert {task.name for task in workload.tasks} == set(CATALOGUE)
    assert workload.region == "eu-west-2"
    assert workload.volume_per_month > 0


def test_omitted_fields_come_from_the_catalogue() -> None:
    workload = parse_workload(
        {"tasks": {"generate-report": {"volume_per_month": 10}}}, known_regions=REGIONS
    )
    report = workload.task("generate-report")
    assert report.duration_seconds == CATALOGUE["generate-report"].expected_duration_seconds
    assert report.memory_mib == CATALOGUE["generate-report"].memory_mib
    assert workload.task("send-bulk-email").volume_per_month == 0


def test_every_profile_sums_to_one(workload) -> None:
    for task in workload.tasks:
        assert len(task.profile) == MINUTES_PER_DAY
        assert math.isclose(sum(task.profile), 1.0)


def test_burst_puts_its_share_in_the_burst_window() -> None:
    workload = parse_workload(
        {
            "tasks": {
                "generate-report": {
                    "burst_at": "09:00",
                    "burst_minutes": 10,
                    "burst_share": 0.5,
                    "volume_per_month": 9,
                }
            }
        },
        known_regions=REGIONS,
    )
    profile = workload.task("generate-report").profile
    window = sum(profile[9 * 60 : 9 * 60 + 10])
    assert window == pytest.approx(0.5 + 0.5 * 10 / MINUTES_PER_DAY)


def test_business_hours_carry_most_of_the_volume() -> None:
    workload = parse_workload(
        {"tasks": {"virus-scan-result": {"pattern": "business-hours", "volume_per_month": 9}}},
        known_regions=REGIONS,
    )
    shares = hourly_shares(workload.task("virus-scan-result").profile)
    assert sum(shares[8:18]) == pytest.approx(0.9)


def test_bad_input_reports_every_problem_with_field_value_and_fix() -> None:
    data = {
        "region": "mars-north-1",
        "tasks": {
            "generate-report": {"volume_per_month": -5, "hourly_weights": [1, 2]},
            "make-coffee": {"volume_per_month": 1},
            "send-bulk-email": {"pattern": "sometimes"},
        },
        "webapp": {"tasks": 0},
    }
    with pytest.raises(WorkloadError) as caught:
        parse_workload(data, known_regions=REGIONS)
    message = str(caught.value)
    assert len(caught.value.problems) == 6
    assert (
        "region is 'mars-north-1'; there is no price table for it. Use one of eu-west-2, us-east-1"
        in message
    )
    assert "tasks.generate-report.volume_per_month is -5; it must be 0 or more" in message
    assert "tasks.generate-report.hourly_weights has 2 values; give 24" in message
    assert "tasks.make-coffee: unknown task 'make-coffee'" in message
    assert "tasks.send-bulk-email.pattern is 'sometimes'; use one of uniform" in message
    assert "webapp.tasks is 0; it must be greater than 0" in message


def test_payload_above_the_sqs_limit_is_refused() -> None:
    with pytest.raises(WorkloadError, match=r"payload_kib is 2048; SQS accepts at most 1024 KiB"):
        parse_workload({"tasks": {"generate-report": {"payload_kib": 2048}}}, known_regions=REGIONS)


def test_two_patterns_for_one_task_are_refused() -> None:
    with pytest.raises(WorkloadError, match="set one of pattern, hourly_weights and burst_at"):
        parse_workload(
            {"tasks": {"generate-report": {"pattern": "uniform", "burst_at": "09:00"}}},
            known_regions=REGIONS,
        )


def test_missing_file_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(WorkloadError, match="no such file; pass --workload"):
        load_workload(tmp_path / "absent.toml", known_regions=REGIONS)


def test_scaling_multiplies_every_volume(workload) -> None:
    doubled = workload.scaled(2)
    assert doubled.volume_per_month == pytest.approx(2 * workload.volume_per_month)
