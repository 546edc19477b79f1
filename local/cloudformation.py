"""Create a stack in moto's CloudFormation and report what it created and skipped."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from comparison.inputs.templates import StackTemplate, read_template
from local.emulator import REGION

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.literals import CapabilityType

CAPABILITIES: list[CapabilityType] = [
    "CAPABILITY_IAM",
    "CAPABILITY_NAMED_IAM",
    "CAPABILITY_AUTO_EXPAND",
]


@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    physical_id: str = ""


@dataclass(frozen=True)
class DeployedStack:
    """A stack as the emulator holds it, and the template resources it did not create."""

    name: str
    stack_id: str
    status: str
    seconds: float
    outputs: Mapping[str, str]
    created: tuple[Resource, ...]
    skipped: tuple[Resource, ...]
    # Custom resources whose Lambda the deploy tool stood in for (moto needs Docker).
    emulated: tuple[str, ...] = field(default=())

    def physical_id(self, logical_id: str) -> str:
        return next(r.physical_id for r in self.created if r.logical_id == logical_id)

    def of_type(self, resource_type: str) -> list[Resource]:
        return [r for r in self.created if r.type == resource_type]


class DeployError(RuntimeError):
    """The stack did not reach CREATE_COMPLETE."""


def restrict_default_security_group(properties: Mapping[str, Any]) -> None:
    """What CDK's Custom::VpcRestrictDefaultSG Lambda does: strip the default SG's rules."""
    ec2 = boto3.client("ec2")
    group_id = properties["DefaultSecurityGroupId"]
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    if group["IpPermissions"]:
        ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=group["IpPermissions"])
    if group["IpPermissionsEgress"]:
        ec2.revoke_security_group_egress(
            GroupId=group_id, IpPermissions=group["IpPermissionsEgress"]
        )


def create_ecs_service_linked_role(properties: Mapping[str, Any]) -> None:
    """What the Custom::EcsServiceLinkedRole call does: create the role, or find it made."""
    call = json.loads(properties["Create"])
    iam = boto3.client("iam")
    # it may exist: the handler ignores those errors too (moto's is EntityAlreadyExists)
    with contextlib.suppress(
        iam.exceptions.InvalidInputException, iam.exceptions.EntityAlreadyExistsException
    ):
        iam.create_service_linked_role(**call["parameters"])


# Custom resource types the deploy tool can stand in for, by what their handler does.
CUSTOM_RESOURCE_EMULATORS: Mapping[str, Callable[[Mapping[str, Any]], None]] = {
    "Custom::VpcRestrictDefaultSG": restrict_default_security_group,
    "Custom::EcsServiceLinkedRole": create_ecs_service_linked_role,
}


def deploy_stack(
    endpoint_url: str, stack_name: str, template_url: str, template_path: Path, timeout: float = 90
) -> DeployedStack:
    cfn = boto3.client("cloudformation")
    started = time.monotonic()
    stack_id = cfn.create_stack(
        StackName=stack_name, TemplateURL=template_url, Capabilities=CAPABILITIES
    )["StackId"]
    template = read_template(template_path)
    emulated: list[str] = []
    while True:
        stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            break
        emulated += _answer_custom_resources(endpoint_url, stack_id, template, set(emulated))
        if time.monotonic() - started > timeout:
            raise DeployError(f"{stack_name} still {stack['StackStatus']} after {timeout:.0f}s")
        time.sleep(0.3)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise DeployError(f"{stack_name}: {stack['StackStatus']} {stack.get('StackStatusReason')}")
    return _describe(stack, template, time.monotonic() - started, tuple(emulated))


def _answer_custom_resources(
    endpoint_url: str, stack_id: str, template: StackTemplate, done: set[str]
) -> list[str]:
    """moto invokes a custom resource's Lambda (which needs Docker) and waits for the
    answer on its cfnresponse URL; do the handler's work here and send that answer."""
    answered = []
    for logical_id, resource in template.resources.items():
        if not resource.type.startswith("Custom::") or logical_id in done:
            continue
        emulator = CUSTOM_RESOURCE_EMULATORS.get(resource.type)
        if emulator is None:
            raise DeployError(f"no local stand-in for {resource.type} ({logical_id})")
        properties = _resolved_properties(stack_id, resource.properties)
        emulator(properties)
        body = json.dumps(
            {
                "Status": "SUCCESS",
                "StackId": stack_id,
                "LogicalResourceId": logical_id,
                "PhysicalResourceId": logical_id,
                "Data": {},
            }
        ).encode()
        request = urllib.request.Request(
            f"{endpoint_url}/cloudformation_{REGION}/cfnresponse?stack={stack_id}",
            data=body,
            method="PUT",
            # moto picks the region (so the backend holding the stack) from the
            # credential scope; without it the stack is looked up in us-east-1.
            headers={
                "Content-Type": "application/json",
                "Authorization": f"AWS4-HMAC-SHA256 Credential=local/20260101/{REGION}/"
                "cloudformation/aws4_request, SignedHeaders=host, Signature=0",
            },
        )
        urllib.request.urlopen(request, timeout=10).read()
        answered.append(logical_id)
    return answered


def _resolved_properties(stack_id: str, declared: Mapping[str, Any]) -> dict[str, Any]:
    """The custom resource's properties with Fn::GetAtt of the VPC's default SG resolved."""
    properties = dict(declared)
    value = properties.get("DefaultSecurityGroupId")
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        vpc_logical_id = value["Fn::GetAtt"][0]
        vpc_id = boto3.client("cloudformation").describe_stack_resource(
            StackName=stack_id, LogicalResourceId=vpc_logical_id
        )["StackResourceDetail"]["PhysicalResourceId"]
        groups = boto3.client("ec2").describe_security_groups(
            Filters=[
                {"Name": "vpc-id", "Values": [vpc_id]},
                {"Name": "group-name", "Values": ["default"]},
            ]
        )["SecurityGroups"]
        properties["DefaultSecurityGroupId"] = groups[0]["GroupId"]
    return properties


def _describe(
    stack: Mapping[str, Any],
    template: StackTemplate,
    seconds: float,
    emulated: tuple[str, ...],
) -> DeployedStack:
    cfn = boto3.client("cloudformation")
    summaries = cfn.get_paginator("list_stack_resources").paginate(StackName=stack["StackId"])
    created = tuple(
        Resource(s["LogicalResourceId"], s["ResourceType"], s.get("PhysicalResourceId", ""))
        for page in summaries
        for s in page["StackResourceSummaries"]
        # moto lists each resource it skipped as an entry with no logical id.
        if s.get("LogicalResourceId")
    )
    created_ids = {r.logical_id for r in created}
    skipped = tuple(
        Resource(logical_id, resource.type)
        for logical_id, resource in template.resources.items()
        if logical_id not in created_ids
    )
    return DeployedStack(
        name=stack["StackName"],
        stack_id=stack["StackId"],
        status=stack["StackStatus"],
        seconds=seconds,
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        created=created,
        skipped=skipped,
        emulated=emulated,
    )


def delete_stack(stack_name: str, timeout: float = 60) -> list[str]:
    """Delete and wait; moto keeps resources whose DeletionPolicy is Retain.

    Returns notes on where moto differed. moto deletes in passes until no progress and
    then raises the last error, typically DependencyViolation on the VPC; by then it
    has dropped the stack record, so the delete is reported, not retried.
    """
    cfn = boto3.client("cloudformation")
    stack_id = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackId"]
    notes = []
    try:
        cfn.delete_stack(StackName=stack_id)
    except ClientError as error:
        notes.append(f"moto's DeleteStack of {stack_name} raised {error}; resources left over")
    deadline = time.monotonic() + timeout
    while _stack_status(stack_id) not in ("DELETE_COMPLETE", None):
        if time.monotonic() > deadline:
            raise DeployError(f"{stack_name} was not deleted within {timeout:.0f}s")
        time.sleep(0.3)
    return notes


def _stack_status(stack_id: str) -> str | None:
    try:
        stacks = boto3.client("cloudformation").describe_stacks(StackName=stack_id)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    return str(stacks[0]["StackStatus"])
