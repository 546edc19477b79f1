"""boto3 clients with boto3's defaults, so ``AWS_ENDPOINT_URL`` and the region apply.

Clients are cached per (service, endpoint, region) because creating one costs tens of
milliseconds; a client holds no task data, so sharing it leaks nothing between calls.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Literal, overload

import boto3
from botocore.config import Config

if TYPE_CHECKING:  # the stubs are a dev dependency: the Lambda zip and image ship without them
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_ecs.client import ECSClient
    from mypy_boto3_lambda.client import LambdaClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_ses.client import SESClient
    from mypy_boto3_sqs.client import SQSClient

# The services the runtime calls; each has a typed overload of ``client``.
Service = Literal["dynamodb", "ecs", "lambda", "s3", "ses", "sqs"]

# Enough connections for a worker thread pool plus the heartbeat and deleter threads.
_MAX_POOL_CONNECTIONS = 50


@overload
def client(service: Literal["dynamodb"]) -> DynamoDBClient: ...
@overload
def client(service: Literal["ecs"]) -> ECSClient: ...
@overload
def client(service: Literal["lambda"]) -> LambdaClient: ...
@overload
def client(service: Literal["s3"]) -> S3Client: ...
@overload
def client(service: Literal["ses"]) -> SESClient: ...
@overload
def client(service: Literal["sqs"]) -> SQSClient: ...
def client(
    service: Service,
) -> DynamoDBClient | ECSClient | LambdaClient | S3Client | SESClient | SQSClient:
    """A boto3 client for ``service`` honouring the current environment."""
    return _cached(
        service,
        os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get("AWS_ENDPOINT_URL"),
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    )


@functools.lru_cache(maxsize=16)
def _cached(
    service: Service, endpoint: str | None, region: str | None
) -> DynamoDBClient | ECSClient | LambdaClient | S3Client | SESClient | SQSClient:
    del endpoint, region  # cache key only: boto3 reads them from the environment
    return boto3.client(service, config=Config(max_pool_connections=_MAX_POOL_CONNECTIONS))
