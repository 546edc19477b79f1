"""``--refresh-prices``: update a region's price table from the public AWS Price List
bulk offer files, over HTTPS, with no credentials.

The files form a chain: the offer index (``/offers/v1.0/aws/index.json``) names each
service's region index; the region index names the region's current offer file; the
offer file lists ``products`` (by SKU, with ``attributes.usagetype``) and
``terms.OnDemand`` (by SKU, with price dimensions). Each price key maps to a service
code and a usage type, whose region prefix (``EUW2-``, ``USE1-``...) differs by region;
the first non-zero on-demand tier is taken. Keys that match no product keep their old
entry and are reported. (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-the-aws-price-list-bulk-api.html)

The AmazonEC2 offer (NAT gateways) is large, hundreds of MB for one region: a refresh
downloads it once.
"""

from __future__ import annotations

import datetime
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from comparison.errors import PriceTableError
from comparison.inputs.prices import (
    PRICES_DIR,
    Price,
    PriceTable,
    load_price_table,
    save_price_table,
)

OFFERS_HOST = "https://pricing.us-east-1.amazonaws.com"
OFFER_INDEX = "/offers/v1.0/aws/index.json"

Fetch = Callable[[str], Mapping[str, Any]]
"""Reads one JSON document by its path on OFFERS_HOST."""


def https_fetch(path: str) -> Mapping[str, Any]:
    with urllib.request.urlopen(OFFERS_HOST + path, timeout=300) as response:
        document: Mapping[str, Any] = json.load(response)
        return document


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
    """USD per unit of the lowest non-free on-demand tier of one product with its terms."""
    tiers: list[tuple[float, float]] = []
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            usd = float(dimension.get("pricePerUnit", {}).get("USD", "0"))
            if usd > 0:
                tiers.append((float(dimension.get("beginRange", "0")), usd))
    return min(tiers)[1] if tiers else None


def matches(product: Mapping[str, Any], spec: OfferSpec) -> bool:
    details = product.get("product", {})
    attributes = details.get("attributes", {})
    usagetype = str(attributes.get("usagetype", ""))
    # 'EUW2-Lambda-GB-Second' matches 'Lambda-GB-Second', not 'Lambda-GB-Second-ARM'.
    bare = usagetype.split("-", 1)[1] if "-" in usagetype else usagetype
    family = not spec.product_family or details.get("productFamily") == spec.product_family
    return (
        family
        and (bare == spec.usagetype_suffix or usagetype == spec.usagetype_suffix)
        and all(attributes.get(name) == value for name, value in spec.attributes)
    )


def offer_products(offer: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Each product of an offer file joined with its on-demand terms."""
    on_demand = offer.get("terms", {}).get("OnDemand", {})
    for sku, product in offer.get("products", {}).items():
        yield {"product": product, "terms": {"OnDemand": on_demand.get(sku, {})}}


def select_price(products: Iterable[Mapping[str, Any]], spec: OfferSpec) -> float | None:
    """The USD per unit of the product that ``spec`` names."""
    for product in products:
        if matches(product, spec):
            price = first_paid_tier(product)
            if price is not None:
                return price
    return None


def region_offer(
    fetch: Fetch, index: Mapping[str, Any], code: str, region: str
) -> Mapping[str, Any]:
    """The current offer file of one service in one region, through its region index."""
    offer = index.get("offers", {}).get(code)
    if offer is None:
        return {}
    regions = fetch(offer["currentRegionIndexUrl"]).get("regions", {})
    if region not in regions:
        return {}
    return fetch(regions[region]["currentVersionUrl"])


def refreshed(
    table: PriceTable, fetch: Fetch, today: datetime.date
) -> tuple[PriceTable, list[str]]:
    """A copy of ``table`` with every price the offer files gave; the keys not found."""
    index = fetch(OFFER_INDEX)
    offers: dict[str, Mapping[str, Any]] = {}
    prices: dict[str, Price] = dict(table.prices)
    missing: list[str] = []
    for spec in SPECS:
        if spec.key not in prices:
            continue
        if spec.service_code not in offers:
            offers[spec.service_code] = region_offer(fetch, index, spec.service_code, table.region)
        offer = offers[spec.service_code]
        per_unit = select_price(offer_products(offer), spec)
        if per_unit is None:
            missing.append(spec.key)
            continue
        old = prices[spec.key]
        prices[spec.key] = replace(
            old,
            usd=round(per_unit * old.per, 10),
            source=(
                f"AWS Price List bulk offer {spec.service_code} {table.region} "
                f"version {offer.get('version', '?')}: *{spec.usagetype_suffix}"
            ),
            date=today.isoformat(),
        )
    return PriceTable(region=table.region, prices=prices), missing


def refresh_region(
    region: str,
    fetch: Fetch = https_fetch,
    today: datetime.date | None = None,
    directory: Path = PRICES_DIR,
) -> list[str]:
    """Rewrite ``<directory>/<region>.json``; return the keys left unchanged."""
    table = load_price_table(region, directory)
    try:
        updated, missing = refreshed(table, fetch, today or datetime.date.today())
    except (urllib.error.URLError, OSError, KeyError, ValueError) as error:
        raise PriceTableError(
            [
                f"could not read the AWS Price List bulk offer files ({error}); check the "
                f"connection to {OFFERS_HOST} or run without --refresh-prices"
            ]
        ) from error
    save_price_table(updated, directory)
    return missing
