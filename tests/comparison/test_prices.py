"""The shipped price tables: complete, sourced and dated; priced to the cent."""

from __future__ import annotations

import json

import pytest

from comparison.cost.costing import price_usage
from comparison.cost.usage import Usage
from comparison.errors import PriceTableError
from comparison.inputs.prices import PRICES_DIR, known_regions, load_price_table, parse_price_table


def test_both_regions_ship_the_same_entries() -> None:
    assert known_regions() >= {"eu-west-2", "us-east-1"}
    london, virginia = load_price_table("eu-west-2"), load_price_table("us-east-1")
    assert set(london.prices) == set(virginia.prices)


@pytest.mark.parametrize("region", ["eu-west-2", "us-east-1"])
def test_every_entry_has_a_source_and_date(region: str) -> None:
    document = json.loads((PRICES_DIR / f"{region}.json").read_text())
    for key, entry in document["prices"].items():
        assert entry["source"].startswith("https://aws.amazon.com/"), key
        assert len(entry["date"]) == 10, key


def test_one_half_vcpu_one_gb_fargate_task_all_month_in_london() -> None:
    # GIVEN 0.5 vCPU and 1 GB on x86 for 730 h at $0.04656/vCPU-h and $0.00511/GB-h
    usages = [
        Usage("fargate.vcpu_hour.x86_64", 0.5 * 730, "Task", ""),
        Usage("fargate.gb_hour.x86_64", 1.0 * 730, "Task", ""),
    ]
    cost = price_usage(usages, load_price_table("eu-west-2"), free_tier=False)
    # THEN 16.9944 + 3.7303 = 20.7247
    assert round(cost.total, 2) == 20.72
    assert [round(item.cost, 4) for item in cost.items] == [3.7303, 16.9944]


def test_lambda_gb_seconds_for_a_million_one_second_runs_at_1_gb_on_arm() -> None:
    usages = [
        Usage("lambda.gb_second.arm64", 1_000_000 * 1.0 * 1.0, "Fn", ""),
        Usage("lambda.request", 1_000_000, "Fn", ""),
    ]
    table = load_price_table("eu-west-2")
    assert round(price_usage(usages, table, free_tier=False).total, 2) == 13.53  # 13.3334 + 0.20
    # The free tier takes 400,000 GB-s and 1M requests off: 600,000 x 0.0000133334
    assert round(price_usage(usages, table, free_tier=True).total, 2) == 8.00


def test_free_gb_seconds_are_one_pool_across_architectures() -> None:
    usages = [
        Usage("lambda.gb_second.arm64", 300_000, "A", ""),
        Usage("lambda.gb_second.x86_64", 300_000, "B", ""),
    ]
    cost = price_usage(usages, load_price_table("us-east-1"), free_tier=True)
    assert sum(item.free_quantity for item in cost.items) == 400_000


def test_missing_price_names_the_file_to_fix() -> None:
    table = parse_price_table("eu-west-2", {"prices": {}})
    with pytest.raises(
        PriceTableError,
        match=r"no price 'sqs.request'; add it to comparison/inputs/prices/eu-west-2.json",
    ):
        table["sqs.request"]


def test_entry_without_source_is_refused() -> None:
    with pytest.raises(PriceTableError, match="price 'x' lacks source"):
        parse_price_table(
            "r", {"prices": {"x": {"usd": 1, "unit": "u", "service": "s", "date": "d"}}}
        )


def test_unknown_region_lists_the_known_ones() -> None:
    with pytest.raises(PriceTableError, match="no price table for region 'mars-1'"):
        load_price_table("mars-1")
