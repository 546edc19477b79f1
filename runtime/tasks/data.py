"""The shared data as the handlers reach it: the task table and the bucket, from the
environment the stacks set (``ASYNC_TASKS_TABLE``, ``ASYNC_TASKS_BUCKET``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from runtime.contract import BUCKET_ENV, TABLE_ENV
from runtime.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import DynamoDBServiceResource, Table

__all__ = ["bucket_from_env", "table_from_env", "table_name_from_env", "utc_now"]


def utc_now() -> str:
    """The current UTC time as ISO-8601 with a ``Z``, the format of every ``*_at``."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def table_name_from_env(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return _required(env, TABLE_ENV, "the task table's name")


def bucket_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The task bucket's name from ``ASYNC_TASKS_BUCKET``."""
    env = os.environ if environ is None else environ
    return _required(env, BUCKET_ENV, "the task bucket's name")


def table_from_env(
    environ: Mapping[str, str] | None = None, *, dynamodb: DynamoDBServiceResource | None = None
) -> Table:
    """The task table as a boto3 ``Table`` resource; ``dynamodb`` is a service resource."""
    name = table_name_from_env(environ)
    if dynamodb is None:
        import boto3

        dynamodb = boto3.resource("dynamodb")
    return dynamodb.Table(name)


def _required(env: Mapping[str, str], name: str, what: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"{name} is not set; set it to {what} (see docs/tasks.md)")
    return value
