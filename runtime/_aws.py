"""boto3 clients with boto3's defaults, so ``AWS_ENDPOINT_URL`` and the region apply.

Clients are cached per (service, endpoint, region) because creating one costs tens of
milliseconds; a client holds no task data, so sharing it leaks nothing between calls.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from botocore.config import Config

# Enough connections for a worker thread pool plus the heartbeat and deleter threads.
_MAX_POOL_CONNECTIONS = 50


def client(service: str) -> Any:
    """A boto3 client for ``service`` honouring the current environment."""
    return _cached(
        service,
        os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get("AWS_ENDPOINT_URL"),
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    )


@functools.lru_cache(maxsize=16)
def _cached(service: str, endpoint: str | None, region: str | None) -> Any:
    del endpoint, region  # cache key only: boto3 reads them from the environment
    return boto3.client(service, config=Config(max_pool_connections=_MAX_POOL_CONNECTIONS))
