"""Deployment settings read from CDK context, once, with clear errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Node

from stacks.network import AwsApiAccess, ExistingVpc


class SettingsError(ValueError):
    """A context value is malformed; the message names the key and the fix."""


@dataclass(frozen=True, kw_only=True)
class TopologySettings:
    """What every topology stack reads from context.

    - ``webappImage``: an image URI for the web app and workers. Default: the
      project's image, built from ``container/Dockerfile`` at deploy (synth needs
      no Docker).
    - ``network``: ``nat`` (default) or ``endpoints``; see ``stacks/network.py``.
    - ``vpcId`` with ``availabilityZones`` and ``privateSubnetIds`` (lists or
      comma-separated): use an existing VPC.
    - ``malwareProtection``: ``true`` to add a GuardDuty Malware Protection plan on
      the uploads bucket (billed per GB scanned). Default: false.
    - ``emailSender``: the verified SES identity bulk email is sent as. Default: none;
      email tasks then fail permanently, naming the missing setting.
    """

    webapp_image: str | None = None
    aws_api_access: AwsApiAccess = AwsApiAccess.NAT
    existing_vpc: ExistingVpc | None = None
    malware_protection: bool = False
    email_sender: str | None = None

    @classmethod
    def from_context(cls, node: Node) -> TopologySettings:
        network = str(node.try_get_context("network") or AwsApiAccess.NAT.value)
        valid = [access.value for access in AwsApiAccess]
        if network not in valid:
            raise SettingsError(f"context 'network' is '{network}'; use one of {valid}")
        vpc_id = node.try_get_context("vpcId")
        existing = None
        if vpc_id:
            existing = ExistingVpc(
                vpc_id=str(vpc_id),
                availability_zones=_list(node, "availabilityZones"),
                private_subnet_ids=_list(node, "privateSubnetIds"),
            )
        sender = node.try_get_context("emailSender")
        if sender is not None and "@" not in str(sender):
            raise SettingsError(
                f"context 'emailSender' is '{sender}'; use an email address, e.g. tasks@example.com"
            )
        image = node.try_get_context("webappImage")
        return cls(
            webapp_image=str(image) if image else None,
            aws_api_access=AwsApiAccess(network),
            existing_vpc=existing,
            malware_protection=_flag(node, "malwareProtection"),
            email_sender=str(sender) if sender is not None else None,
        )


def _list(node: Node, key: str) -> list[str]:
    value: Any = node.try_get_context(key)
    if isinstance(value, str):
        value = [item.strip() for item in value.split(",") if item.strip()]
    if not value:
        raise SettingsError(f"context 'vpcId' needs '{key}' too (a list or comma-separated)")
    return [str(item) for item in value]


def _flag(node: Node, key: str) -> bool:
    value = node.try_get_context(key)
    if value is None or isinstance(value, bool):
        return bool(value)
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise SettingsError(f"context '{key}' is '{value}'; use true or false")
