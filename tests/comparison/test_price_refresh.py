"""--refresh-prices reads the public Price List bulk offer files; tests replay recorded
excerpts (offer index -> region index -> offer file), with no network."""

from __future__ import annotations

import datetime
import json
import shutil
import urllib.error
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from comparison.errors import PriceTableError
from comparison.inputs.price_refresh import (
    OFFER_INDEX,
    SPECS,
    first_paid_tier,
    offer_products,
    refresh_region,
    select_price,
)
from comparison.inputs.prices import PRICES_DIR, load_price_table

BULK = Path(__file__).parent / "fixtures" / "bulk"
TODAY = datetime.date(2026, 11, 27)
_SPEC = {spec.key: spec for spec in SPECS}


def _offer(code: str) -> Mapping[str, Any]:
    return json.loads((BULK / f"{code}-eu-west-2.json").read_text())


class Recorded:
    """Answers the paths the refresh asks for from the recorded files, and counts them."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, path: str) -> Mapping[str, Any]:
        self.asked.append(path)
        if path == OFFER_INDEX:
            return json.loads((BULK / "index.json").read_text())
        code = path.split("/")[4]
        name = "region_index" if path.endswith("region_index.json") else "eu-west-2"
        return json.loads((BULK / f"{code}-{name}.json").read_text())


def test_first_paid_tier_skips_the_free_tier_dimension() -> None:
    # SQS: 0-1M requests at $0 (the free tier), then $0.0000004
    (product,) = [
        p
        for p in offer_products(_offer("AWSQueueService"))
        if p["product"]["attributes"].get("queueType") == "Standard"
    ]
    assert first_paid_tier(product) == pytest.approx(0.0000004)


def test_usage_type_selects_the_product_whatever_the_region_prefix() -> None:
    lambdas = list(offer_products(_offer("AWSLambda")))
    assert select_price(lambdas, _SPEC["lambda.gb_second.x86_64"]) == pytest.approx(0.0000166667)
    assert select_price(lambdas, _SPEC["lambda.gb_second.arm64"]) == pytest.approx(0.0000133334)
    queues = list(offer_products(_offer("AWSQueueService")))
    assert select_price(queues, _SPEC["sqs.request"]) == pytest.approx(0.0000004)  # not FIFO


def test_refresh_follows_the_index_chain_and_keeps_what_it_cannot_find(tmp_path: Path) -> None:
    shutil.copy(PRICES_DIR / "eu-west-2.json", tmp_path / "eu-west-2.json")
    fetch = Recorded()
    missing = refresh_region("eu-west-2", fetch=fetch, today=TODAY, directory=tmp_path)
    # each recorded service is read once: offer index, then its region index, then its file
    assert fetch.asked[0] == OFFER_INDEX
    assert "/offers/v1.0/aws/AmazonECS/current/region_index.json" in fetch.asked
    assert fetch.asked.count("/offers/v1.0/aws/AmazonECS/current/region_index.json") == 1
    table = load_price_table("eu-west-2", tmp_path)
    vcpu = table["fargate.vcpu_hour.x86_64"]
    assert (vcpu.usd, vcpu.date) == (0.047, "2026-11-27")
    assert vcpu.source.startswith("AWS Price List bulk offer AmazonECS eu-west-2 version ")
    assert vcpu.source.endswith("*Fargate-vCPU-Hours:perCPU")
    assert table["fargate.gb_hour.arm64"].usd == pytest.approx(0.00413)
    assert table["sqs.request"].usd == pytest.approx(0.40)  # per million, as published
    # services with no recorded offer keep the shipped entry and are reported
    assert "nat.hour" in missing and "fargate.vcpu_hour.x86_64" not in missing
    assert table["nat.hour"] == load_price_table("eu-west-2")["nat.hour"]


def test_unreachable_offer_files_become_a_clear_price_table_error(tmp_path: Path) -> None:
    shutil.copy(PRICES_DIR / "eu-west-2.json", tmp_path / "eu-west-2.json")

    def offline(path: str) -> Mapping[str, Any]:
        raise urllib.error.URLError("no route to host")

    with pytest.raises(PriceTableError, match="could not read the AWS Price List bulk offer"):
        refresh_region("eu-west-2", fetch=offline, today=TODAY, directory=tmp_path)
