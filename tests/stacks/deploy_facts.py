"""Read the facts AWS enforces at deploy out of a synthesized template.

Small, typed queries over CloudFormation JSON, so each gate test states one AWS rule
and checks it, whatever the logical ids are.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Template = dict[str, Any]


def resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {key: r for key, r in template["Resources"].items() if r["Type"] == kind}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[Any, ...]
    conditions: dict[str, Any]

    def allows(self, action: str) -> bool:
        return self.effect == "Allow" and any(
            pattern == action or (pattern.endswith("*") and action.startswith(pattern[:-1]))
            for pattern in self.actions
        )

    def text(self) -> str:
        return json.dumps([self.resources, self.conditions])


def _statements(document: dict[str, Any]) -> Iterator[Statement]:
    for raw in document["Statement"]:
        yield Statement(
            effect=raw["Effect"],
            actions=tuple(as_list(raw.get("Action", []))),
            resources=tuple(as_list(raw.get("Resource", []))),
            conditions=dict(raw.get("Condition", {})),
        )


def role_statements(template: Template, role_id: str) -> list[Statement]:
    """Every statement of the inline policies attached to ``role_id``."""
    found: list[Statement] = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            found.extend(_statements(policy["Properties"]["PolicyDocument"]))
    role = template["Resources"][role_id]
    for inline in role["Properties"].get("Policies", []):
        found.extend(_statements(inline["PolicyDocument"]))
    return found


def role_ids(template: Template) -> list[str]:
    return list(resources(template, "AWS::IAM::Role"))


def role_of(reference: Any) -> str | None:
    """The logical id behind a ``Fn::GetAtt [Role, Arn]``, if it is one."""
    if isinstance(reference, dict) and "Fn::GetAtt" in reference:
        return str(reference["Fn::GetAtt"][0])
    return None


def task_definitions(template: Template) -> dict[str, dict[str, Any]]:
    return resources(template, "AWS::ECS::TaskDefinition")


def execution_roles(template: Template) -> list[str]:
    roles = [
        role_of(task["Properties"].get("ExecutionRoleArn"))
        for task in task_definitions(template).values()
    ]
    return [role for role in roles if role is not None]


def task_roles(template: Template) -> list[str]:
    roles = [
        role_of(task["Properties"].get("TaskRoleArn"))
        for task in task_definitions(template).values()
    ]
    return [role for role in roles if role is not None]


def lambda_roles(template: Template) -> list[str]:
    roles = [
        role_of(function["Properties"].get("Role"))
        for function in resources(template, "AWS::Lambda::Function").values()
    ]
    return [role for role in roles if role is not None]


def service_suffix(service_name: Any) -> str:
    """``com.amazonaws.<region>.ecr.dkr`` (or its Fn::Join) to ``ecr.dkr``."""
    if isinstance(service_name, dict):
        parts = service_name["Fn::Join"][1]
        text = "".join(part for part in parts if isinstance(part, str))
        # ["com.amazonaws.", {"Ref": "AWS::Region"}, ".ecr.dkr"]
        return text.split("com.amazonaws.", 1)[-1].lstrip(".")
    return str(service_name).split(".", 3)[-1]


def interface_and_gateway_endpoints(template: Template) -> set[str]:
    return {
        service_suffix(endpoint["Properties"]["ServiceName"])
        for endpoint in resources(template, "AWS::EC2::VPCEndpoint").values()
    }
