"""CloudWatch Logs ingestion: a helper the compute extractors call with their log volume."""

from __future__ import annotations

from comparison.cost.usage.registry import Usage

_GB = 1e9


def log_ingestion(resource: str, bytes_per_month: float, note: str) -> Usage:
    return Usage("logs.ingestion_gb", bytes_per_month / _GB, resource, note)
