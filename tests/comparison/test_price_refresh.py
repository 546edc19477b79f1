"""--refresh-prices parses recorded Price List API responses (no network in tests)."""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

from comparison.errors import PriceTableError
from comparison.price_refresh import SPECS, first_paid_tier, refresh_region, select_price
from comparison.prices import PRICES_DIR, load_price_table

FIXTURES = Path(__file__).parent / "fixtures"
TODAY = datetime.date(2026, 11, 27)
_SPEC = {spec.key: spec for spec in SPECS}


def _page(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _empty() -> dict:  # type: ignore[type-arg]
    return {"FormatVersion": "aws_v1", "PriceList": []}


@pytest.fixture
def pricing(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("pricing", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber


def test_first_paid_tier_skips_the_free_tier_dimension() -> None:
    product = json.loads(_page("pricelist_sqs")["PriceList"][1])
    assert first_paid_tier(product) == pytest.approx(0.0000004)


def test_usage_type_selects_the_product_whatever_the_region_prefix() -> None:
    lambda_list = _page("pricelist_lambda")["PriceList"]
    assert select_price(lambda_list, _SPEC["lambda.gb_second.x86_64"]) == pytest.approx(
        0.0000166667
    )
    assert select_price(lambda_list, _SPEC["lambda.gb_second.arm64"]) == pytest.approx(0.0000133334)
    sqs_list = _page("pricelist_sqs")["PriceList"]
    assert select_price(sqs_list, _SPEC["sqs.request"]) == pytest.approx(0.0000004)  # not FIFO


def test_refresh_rewrites_found_prices_with_source_and_date_and_keeps_the_rest(
    pricing, tmp_path: Path
) -> None:
    client, stubber = pricing
    shutil.copy(PRICES_DIR / "eu-west-2.json", tmp_path / "eu-west-2.json")
    region_filter = {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-west-2"}
    # GIVEN recorded pages for ECS (two pages), Lambda and SQS, and nothing for the others
    stubber.add_response(
        "get_products",
        _page("pricelist_ecs_page1"),
        {"ServiceCode": "AmazonECS", "Filters": [region_filter], "FormatVersion": "aws_v1"},
    )
    stubber.add_response(
        "get_products",
        _page("pricelist_ecs_page2"),
        {
            "ServiceCode": "AmazonECS",
            "Filters": [region_filter],
            "FormatVersion": "aws_v1",
            "NextToken": "page-2",
        },
    )
    stubber.add_response(
        "get_products",
        _page("pricelist_lambda"),
        {"ServiceCode": "AWSLambda", "Filters": ANY, "FormatVersion": "aws_v1"},
    )
    stubber.add_response(
        "get_products",
        _page("pricelist_sqs"),
        {"ServiceCode": "AWSQueueService", "Filters": ANY, "FormatVersion": "aws_v1"},
    )
    for _ in range(6):  # AWSEvents, AmazonCloudWatch, AWSELB, AmazonEC2, AmazonVPC, AmazonDynamoDB
        stubber.add_response(
            "get_products",
            _empty(),
            {"ServiceCode": ANY, "Filters": ANY, "FormatVersion": "aws_v1"},
        )
    # WHEN the table is refreshed
    missing = refresh_region("eu-west-2", client=client, today=TODAY, directory=tmp_path)
    stubber.assert_no_pending_responses()
    # THEN the found prices change, carry the API as source and today's date
    table = load_price_table("eu-west-2", tmp_path)
    vcpu = table["fargate.vcpu_hour.x86_64"]
    assert (vcpu.usd, vcpu.date) == (0.047, "2026-11-27")
    assert vcpu.source == "AWS Price List API: AmazonECS *Fargate-vCPU-Hours:perCPU"
    assert table["fargate.gb_hour.arm64"].usd == pytest.approx(0.00413)
    assert table["sqs.request"].usd == pytest.approx(0.40)  # per million, as published
    # AND the others keep the shipped entry and are reported
    assert "nat.hour" in missing and "fargate.vcpu_hour.x86_64" not in missing
    assert table["nat.hour"] == load_price_table("eu-west-2")["nat.hour"]


def test_api_error_becomes_a_clear_price_table_error(pricing, tmp_path: Path) -> None:
    client, stubber = pricing
    shutil.copy(PRICES_DIR / "eu-west-2.json", tmp_path / "eu-west-2.json")
    stubber.add_client_error("get_products", "AccessDeniedException", "not authorised")
    with pytest.raises(PriceTableError, match=r"check AWS credentials \(pricing:GetProducts\)"):
        refresh_region("eu-west-2", client=client, today=TODAY, directory=tmp_path)
