"""Acknowledge a cdk-nag finding on the narrowest construct, with a specific reason."""

from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge ``rule_id`` on exactly ``construct``."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def acknowledge_resource(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge ``rule_id`` on the CloudFormation resource behind an L2 construct."""
    child = construct.node.default_child
    acknowledge(child if child is not None else construct, rule_id, reason)


def nag_resource_text(scope: IConstruct, value: str) -> str:
    """Render a resource string the way cdk-nag prints it inside a granular finding id.

    References become ``<LogicalId>`` and ``<LogicalId.Attribute>``, pseudo parameters
    ``<AWS::Region>``; literals stay. Acknowledging the exact finding keeps every
    other wildcard on the same policy visible.
    """
    return _render(Stack.of(scope).resolve(value))


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_render(part) for part in parts)
    raise ValueError(f"cannot render {value!r} as cdk-nag does")
