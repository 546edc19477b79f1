"""Acknowledge a cdk-nag finding on the narrowest construct, with a specific reason."""

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge ``rule_id`` on exactly ``construct``."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def acknowledge_resource(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge ``rule_id`` on the CloudFormation resource behind an L2 construct."""
    child = construct.node.default_child
    acknowledge(child if child is not None else construct, rule_id, reason)
