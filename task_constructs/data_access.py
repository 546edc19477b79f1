"""What each task's code does with the shared data, as IAM actions.

Task roles get exactly these, by task: the union of a role's tasks in the ECS
topologies (one role runs every task), one task each in ``lambdas``. Every consumer
also keeps the idempotency ledger, whose items all start with ``idempotency#``, so its
``DeleteItem`` is limited to those keys (``dynamodb:LeadingKeys``).

Object actions are per key prefix, from the schema (``runtime/contract/storage.py``);
the ``recipients/`` lists are read by send-bulk-email.
A new task type that touches the data adds its entry here; without one it gets the
ledger only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from runtime.contract.storage import (
    LEDGER_PK_PREFIX,
    RECIPIENTS_PREFIX,
    REPORTS_PREFIX,
    RESULTS_PREFIX,
    UPLOADS_PREFIX,
)

# The ledger's own calls (runtime/idempotency.py): claim, renew, complete, release.
LEDGER_ACTIONS = frozenset({"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"})


@dataclass(frozen=True)
class DataAccess:
    """Table actions on any item, and object actions by key prefix."""

    table: frozenset[str] = frozenset()
    objects: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __or__(self, other: DataAccess) -> DataAccess:
        prefixes = set(self.objects) | set(other.objects)
        return DataAccess(
            table=self.table | other.table,
            objects={
                prefix: self.objects.get(prefix, frozenset())
                | other.objects.get(prefix, frozenset())
                for prefix in sorted(prefixes)
            },
        )


_READ = frozenset({"s3:GetObject", "s3:GetObjectVersion"})
_WRITE = frozenset({"s3:PutObject", "s3:AbortMultipartUpload"})

TASK_DATA_ACCESS: Mapping[str, DataAccess] = MappingProxyType(
    {
        # Reads the verdict from the version's GuardDuty tag and records it.
        "virus-scan-result": DataAccess(
            table=frozenset({"dynamodb:GetItem", "dynamodb:UpdateItem"}),
            objects={
                UPLOADS_PREFIX: frozenset({"s3:GetObjectTagging", "s3:GetObjectVersionTagging"})
            },
        ),
        # Reads the CSV, loads records in batches, writes and tidies result parts.
        "property-bulk-upload": DataAccess(
            table=frozenset(
                {
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:BatchWriteItem",
                }
            ),
            objects={
                UPLOADS_PREFIX: _READ,
                RESULTS_PREFIX: _READ | _WRITE | {"s3:DeleteObject"},
            },
        ),
        # Scans the records it aggregates; writes the report.
        "generate-report": DataAccess(
            table=frozenset({"dynamodb:Scan"}), objects={REPORTS_PREFIX: _WRITE}
        ),
        # Reads the list; keeps the campaign ledger (batched reads and writes).
        "send-bulk-email": DataAccess(
            table=frozenset(
                {
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:BatchGetItem",
                    "dynamodb:BatchWriteItem",
                }
            ),
            objects={RECIPIENTS_PREFIX: _READ},
        ),
        # Records feedback and suppressions, after checking the send ledger.
        "email-feedback": DataAccess(table=frozenset({"dynamodb:GetItem", "dynamodb:UpdateItem"})),
    }
)


def access_for(task_names: Iterable[str]) -> DataAccess:
    """What a role running ``task_names`` needs, the ledger's actions aside."""
    access = DataAccess()
    for name in task_names:
        access = access | TASK_DATA_ACCESS.get(name, DataAccess())
    return access


__all__ = [
    "LEDGER_ACTIONS",
    "LEDGER_PK_PREFIX",
    "RECIPIENTS_PREFIX",
    "TASK_DATA_ACCESS",
    "DataAccess",
    "access_for",
]
