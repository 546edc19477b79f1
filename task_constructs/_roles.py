"""Mark a resource's role in the template, for tools that read cdk.out (the cost model).

The mark is CloudFormation resource ``Metadata``: ``{"AsyncTasks": {"role": ...}}``.
Roles: ``webapp``, ``worker``, ``endpoint`` (ECS services); ``task``,
``backlog-metric``, ``invoker`` (Lambda functions).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnResource
from constructs import IConstruct

METADATA_KEY = "AsyncTasks"


def mark_role(construct: IConstruct, role: str, **details: Any) -> None:
    resource = construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to mark")
    resource.add_metadata(METADATA_KEY, {"role": role, **details})
