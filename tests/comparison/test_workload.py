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


def _one_task(**fields: object) -> dict[str, object]:
    return {"tasks": {"generate-report": {"volume_per_month": 900, **fields}}}


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        (0.5, r"burst_minutes is 0.5; a burst lasts whole minutes within a day: .* 1 to 1440"),
        (2000, r"burst_minutes is 2000; a burst lasts whole minutes within a day: .* 1 to 1440"),
    ],
)
def test_burst_shorter_than_a_minute_or_longer_than_a_day_is_refused(
    minutes: float, expected: str
) -> None:
    with pytest.raises(WorkloadError, match=expected) as caught:
        parse_workload(_one_task(burst_at="09:00", burst_minutes=minutes), known_regions=REGIONS)
    assert len(caught.value.problems) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("volume_per_month", math.nan),
        ("volume_per_month", math.inf),
        ("duration_seconds", math.inf),
        ("duration_seconds", math.nan),
        ("payload_kib", math.nan),
        ("max_wait", math.inf),
    ],
)
def test_non_finite_numbers_are_refused_by_name(field: str, value: float) -> None:
    with pytest.raises(WorkloadError) as caught:
        parse_workload(_one_task(**{field: value}), known_regions=REGIONS)
    assert caught.value.problems == [
        f"tasks.generate-report.{field} is {value}; it must be a finite number"
    ]


def test_non_finite_top_level_and_web_app_numbers_are_refused() -> None:
    data = {**_one_task(), "image_mib": math.nan, "webapp": {"vcpu": math.inf}}
    with pytest.raises(WorkloadError) as caught:
        parse_workload(data, known_regions=REGIONS)
    assert caught.value.problems == [
        "image_mib is nan; it must be a finite number",
        "webapp.vcpu is inf; it must be a finite number",
    ]


def test_a_volume_the_simulation_cannot_finish_in_seconds_is_refused() -> None:
    with pytest.raises(WorkloadError, match=r"totals 1,000,000,000,000 tasks a month") as caught:
        parse_workload(_one_task(volume_per_month=1e12), known_regions=REGIONS)
    (line,) = caught.value.problems
    assert "would take minutes. Compare at most 3,041,667 a month" in line


def test_the_volume_limit_counts_the_whole_simulated_cycle() -> None:
    # A weekly task is simulated over a week: 7 days' arrivals count, not 1.
    data = _one_task(volume_per_month=1_000_000, days=["mon"])
    with pytest.raises(WorkloadError, match=r"of its 7-day period"):
        parse_workload(data, known_regions=REGIONS)
    parse_workload(_one_task(volume_per_month=1_000_000), known_regions=REGIONS)


@pytest.mark.parametrize("memory", [64, 10_241, 512.5])
def test_memory_outside_lambdas_range_is_refused(memory: float) -> None:
    # Lambda takes 128 to 10,240 MiB in 1-MiB steps: "Configure Lambda function memory",
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
    with pytest.raises(WorkloadError, match=r"memory_mib is .*; Lambda takes: .* 128 to 10240"):
        parse_workload(_one_task(memory_mib=memory), known_regions=REGIONS)


def test_a_duration_above_the_catalogue_maximum_is_refused() -> None:
    limit = CATALOGUE["generate-report"].max_duration_seconds
    with pytest.raises(
        WorkloadError,
        match=rf"duration_seconds is {limit + 30}; the catalogue's max_duration_seconds for "
        rf"generate-report is {limit}",
    ):
        parse_workload(_one_task(duration_seconds=limit + 30), known_regions=REGIONS)
    parse_workload(_one_task(duration_seconds=limit), known_regions=REGIONS)


def test_an_image_larger_than_fargate_ephemeral_storage_is_refused() -> None:
    # "Fargate task ephemeral storage", Amazon ECS developer guide: 20 GiB by default.
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-storage.html
    with pytest.raises(WorkloadError, match=r"image_mib is 120000; .* at most 20480"):
        parse_workload({**_one_task(), "image_mib": 120_000}, known_regions=REGIONS)
    parse_workload({**_one_task(), "image_mib": 20_480}, known_regions=REGIONS)


def test_longer_than_names_the_tasks_over_a_limit() -> None:
    workload = parse_workload(_one_task(duration_seconds=840), known_regions=REGIONS)
    over = workload.longer_than({"generate-report": 600, "send-bulk-email": 1})
    assert [task.name for task in over] == ["generate-report"]  # send-bulk-email runs 0 times


def test_weekly_days_share_the_month_among_the_days_they_run() -> None:
    workload = parse_workload(
        {"tasks": {"send-bulk-email": {"volume_per_month": 43_500, "days": ["mon"]}}},
        known_regions=REGIONS,
    )
    task = workload.task("send-bulk-email")
    assert task.calendar == (True, False, False, False, False, False, False)
    # About 4.35 Mondays a month: 43,500 a month is about 10,000 a Monday.
    assert task.volume_per_active_day == pytest.approx(43_500 / (30.4167 / 7), rel=1e-4)
    assert workload.cycle_days == 7
    assert task.pattern_label == "uniform, on mon"


def test_every_days_runs_on_the_first_day_of_each_cycle() -> None:
    workload = parse_workload(_one_task(every_days=3), known_regions=REGIONS)
    assert workload.task("generate-report").calendar == (True, False, False)
    assert workload.cycle_days == 3


def test_calendars_of_several_tasks_repeat_together() -> None:
    data = {
        "tasks": {
            "generate-report": {"volume_per_month": 9, "every_days": 2},
            "send-bulk-email": {"volume_per_month": 9, "days": ["mon", "thu"]},
        }
    }
    assert parse_workload(data, known_regions=REGIONS).cycle_days == 14


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"days": ["monday"]}, r"days is \['monday'\]; give a list of distinct weekdays"),
        ({"days": []}, r"days is \[\]; give a list of distinct weekdays"),
        ({"days": ["mon", "mon"]}, r"days is \['mon', 'mon'\]; give a list of distinct"),
        ({"every_days": 0}, r"every_days is 0; it must be greater than 0"),
        ({"every_days": 29}, r"every_days is 29; days between runs: a whole number from 1 to 28"),
        ({"every_days": 2, "days": ["mon"]}, r"set one of days and every_days, not both"),
    ],
)
def test_bad_calendars_are_refused(fields: dict[str, object], expected: str) -> None:
    with pytest.raises(WorkloadError, match=expected):
        parse_workload(_one_task(**fields), known_regions=REGIONS)
