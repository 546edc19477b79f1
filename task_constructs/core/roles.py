"""Mark a resource's role in the template, for tools that read cdk.out (the cost model).

The mark is CloudFormation resource ``Metadata``: ``{"AsyncTasks": {"role": ...}}``,
with the key, the roles and the detail names from :mod:`runtime.contract`.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnResource
from constructs import IConstruct

from runtime.contract import (
    ENDPOINT_WORKERS_DETAIL,
    METADATA_KEY,
    POLLER_THREADS_DETAIL,
    TASK_DETAIL,
    ResourceRole,
)


def mark_role(
    construct: IConstruct,
    role: ResourceRole,
    *,
    poller_threads: int | None = None,
    endpoint_workers: int | None = None,
    task: str | None = None,
) -> None:
    """Mark ``construct``'s resource; ``poller_threads`` for ECS services that poll the
    queue, ``endpoint_workers`` for the endpoint service (requests a task runs at once),
    ``task`` for a task's own Lambda function."""
    resource = construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to mark")
    mark: dict[str, Any] = {"role": role.value}
    if poller_threads is not None:
        mark[POLLER_THREADS_DETAIL] = poller_threads
    if endpoint_workers is not None:
        mark[ENDPOINT_WORKERS_DETAIL] = endpoint_workers
    if task is not None:
        mark[TASK_DETAIL] = task
    resource.add_metadata(METADATA_KEY, mark)
