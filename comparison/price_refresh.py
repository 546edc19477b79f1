"""``--refresh-prices``: update a region's price table from the AWS Price List API.

Each price key maps to an offer (service code) and a usage type; ``get_products`` is
filtered server-side on ``regionCode`` (and product family where that keeps the list
small) and the product is picked client-side by its usage type, whose region prefix
(``EUW2-``, ``USE1-``...) differs by region. The first non-zero on-demand tier is taken.
Keys that match no product keep their old entry and are reported.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from comparison.errors import PriceTableError
from comparison.prices import (
    PRICES_DIR,
    Price,
    PriceTable,
    load_price_table,
    save_price_table,
)

# The Price List API answers in us-east-1 (also eu-central-1 and ap-south-1).
PRICING_REGION = "us-east-1"


@dataclass(frozen=True)
class OfferSpec:
    key: str
    service_code: str
    usagetype_suffix: str
    product_family: str = ""
    attributes: tuple[tuple[str, str], ...] = ()


SPECS: tuple[OfferSpec, ...] = (
    OfferSpec("fargate.vcpu_hour.x86_64", "AmazonECS", "Fargate-vCPU-Hours:perCPU"),
    OfferSpec("fargate.gb_hour.x86_64", "AmazonECS", "Fargate-GB-Hours"),
    OfferSpec("fargate.vcpu_hour.arm64", "AmazonECS", "Fargate-ARM-vCPU-Hours:perCPU"),
    OfferSpec("fargate.gb_hour.arm64", "AmazonECS", "Fargate-ARM-GB-Hours"),
    OfferSpec("lambda.gb_second.x86_64", "AWSLambda", "Lambda-GB-Second"),
    OfferSpec("lambda.gb_second.arm64", "AWSLambda", "Lambda-GB-Second-ARM"),
    OfferSpec("lambda.request", "AWSLambda", "Request"),
    OfferSpec(
        "sqs.request", "AWSQueueService", "Requests-RBP", attributes=(("queueType", "Standard"),)
    ),
    OfferSpec("scheduler.invocation", "AWSEvents", "Scheduler-Invocation"),
    OfferSpec("cloudwatch.metric", "AmazonCloudWatch", "CW:MetricMonitorUsage"),
    OfferSpec("cloudwatch.alarm", "AmazonCloudWatch", "CW:AlarmMonitorUsage"),
    OfferSpec("cloudwatch.api_request", "AmazonCloudWatch", "CW:Requests"),
    OfferSpec("logs.ingestion_gb", "AmazonCloudWatch", "DataProcessing-Bytes"),
    OfferSpec("elb.alb_hour", "AWSELB", "LoadBalancerUsage", "Load Balancer-Application"),
    OfferSpec("elb.lcu_hour", "AWSELB", "LCUUsage", "Load Balancer-Application"),
    OfferSpec("nat.hour", "AmazonEC2", "NatGateway-Hours", "NAT Gateway"),
    OfferSpec("nat.gb", "AmazonEC2", "NatGateway-Bytes", "NAT Gateway"),
    OfferSpec("vpce.az_hour", "AmazonVPC", "VpcEndpoint-Hours"),
    OfferSpec("vpce.gb", "AmazonVPC", "VpcEndpoint-Bytes"),
    OfferSpec("ipv4.hour", "AmazonVPC", "PublicIPv4:InUseAddress"),
    OfferSpec("dynamodb.write_request", "AmazonDynamoDB", "WriteRequestUnits"),
    OfferSpec("dynamodb.read_request", "AmazonDynamoDB", "ReadRequestUnits"),
)


def first_paid_tier(product: Mapping[str, Any]) -> float | None:
    """USD per unit of the lowest non-free on-demand tier of one Price List product."""
    tiers: list[tuple[float, float]] = []
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            usd = float(dimension.get("pricePerUnit", {}).get("USD", "0"))
            if usd > 0:
                tiers.append((float(dimension.get("beginRange", "0")), usd))
    return min(tiers)[1] if tiers else None


def matches(product: Mapping[str, Any], spec: OfferSpec) -> bool:
    attributes = product.get("product", {}).get("attributes", {})
    usagetype = str(attributes.get("usagetype", ""))
    # 'EUW2-Lambda-GB-Second' matches 'Lambda-GB-Second', not 'Lambda-GB-Second-ARM'.
    bare = usagetype.split("-", 1)[1] if "-" in usagetype else usagetype
    return (bare == spec.usagetype_suffix or usagetype == spec.usagetype_suffix) and all(
        attributes.get(name) == value for name, value in spec.attributes
    )


def select_price(price_list: Iterable[str], spec: OfferSpec) -> float | None:
    """The USD per unit of the product in a ``PriceList`` (JSON strings) that ``spec`` names."""
    for entry in price_list:
        product = json.loads(entry)
        if matches(product, spec):
            price = first_paid_tier(product)
            if price is not None:
                return price
    return None


def fetch_products(client: Any, service_code: str, region: str, product_family: str) -> list[str]:
    filters = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]
    if product_family:
        filters.append({"Type": "TERM_MATCH", "Field": "productFamily", "Value": product_family})
    products: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {
            "ServiceCode": service_code,
            "Filters": filters,
            "FormatVersion": "aws_v1",
        }
        if token:
            kwargs["NextToken"] = token
        page = client.get_products(**kwargs)
        products.extend(page.get("PriceList", []))
        token = page.get("NextToken")
        if not token:
            return products


def refreshed(table: PriceTable, client: Any, today: datetime.date) -> tuple[PriceTable, list[str]]:
    """A copy of ``table`` with every price the API returned; the keys it could not find."""
    cache: dict[tuple[str, str], list[str]] = {}
    prices: dict[str, Price] = dict(table.prices)
    missing: list[str] = []
    for spec in SPECS:
        if spec.key not in prices:
            continue
        query = (spec.service_code, spec.product_family)
        if query not in cache:
            cache[query] = fetch_products(
                client, spec.service_code, table.region, spec.product_family
            )
        per_unit = select_price(cache[query], spec)
        if per_unit is None:
            missing.append(spec.key)
            continue
        old = prices[spec.key]
        prices[spec.key] = replace(
            old,
            usd=round(per_unit * old.per, 10),
            source=f"AWS Price List API: {spec.service_code} *{spec.usagetype_suffix}",
            date=today.isoformat(),
        )
    return PriceTable(region=table.region, prices=prices), missing


def refresh_region(
    region: str,
    client: Any = None,
    today: datetime.date | None = None,
    directory: Path = PRICES_DIR,
) -> list[str]:
    """Rewrite ``<directory>/<region>.json``; return the keys left unchanged."""
    table = load_price_table(region, directory)
    try:
        if client is None:
            client = boto3.client("pricing", region_name=PRICING_REGION)
        updated, missing = refreshed(table, client, today or datetime.date.today())
    except (BotoCoreError, ClientError) as error:
        raise PriceTableError(
            [
                f"the Price List API refused the refresh ({error}); check AWS credentials "
                "(pricing:GetProducts) or run without --refresh-prices"
            ]
        ) from error
    save_price_table(updated, directory)
    return missing
