"""Usage extractors, one module per AWS service; importing this package registers them all."""

from comparison.cost.usage import (  # noqa: F401  (imported to register their extractors)
    cloudwatch,
    dynamodb,
    ecs,
    elb,
    lambda_fn,
    scheduler,
    sqs,
    vpc,
)
from comparison.cost.usage.registry import Usage, UsageContext, extract_usage, registered_types

__all__ = ["Usage", "UsageContext", "extract_usage", "registered_types"]
