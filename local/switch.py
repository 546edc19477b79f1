"""The README's "Switching topology" runbook against the emulator.

moto's CloudFormation has no resource import (CreateChangeSet ignores
ResourcesToImport), so :func:`try_import` only reports what moto answers, and
:func:`adopt` emulates the import's effect: the new stack's consumers are pointed at
the retained physical resources, which is what its Refs resolve to after a real import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from comparison.inputs.templates import read_template

# What both stacks build at the same construct paths, retained on delete (README).
SHARED_LOGICAL_IDS = (
    "TaskQueue1EF2D3F6",
    "TaskQueueDeadLetterQueueD66B0604",
    "DataTaskTable140D4802",
    "DataUploadsBucketF0C3B642",
    "DataAccessLogsBucketC3B60382",
)
_IMPORT_IDENTIFIERS = {
    "AWS::SQS::Queue": "QueueUrl",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::S3::Bucket": "BucketName",
}


def resource_mapping(template_path: Path, retained: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """The runbook's switch.json: logical id -> the import identifier of the old resource."""
    template = read_template(template_path)
    return {
        logical_id: {_IMPORT_IDENTIFIERS[template.resources[logical_id].type]: physical_id}
        for logical_id, physical_id in retained.items()
    }


def try_import(
    stack_name: str, template_path: Path, mapping: Mapping[str, Mapping[str, str]]
) -> str:
    """Ask for an IMPORT change set as `cdk import` would, on a probe stack so nothing
    real is touched; returns what moto did with it."""
    cfn = boto3.client("cloudformation")
    stack_name = f"{stack_name}-import-probe"
    template = read_template(template_path)
    bodies = template.document["Resources"]
    try:
        cfn.create_change_set(
            StackName=stack_name,
            ChangeSetName="local-import",
            ChangeSetType="IMPORT",
            TemplateBody=json.dumps(
                {"Resources": {k: {**bodies[k], "DeletionPolicy": "Retain"} for k in mapping}}
            ),
            ResourcesToImport=[
                {
                    "ResourceType": template.resources[logical_id].type,
                    "LogicalResourceId": logical_id,
                    "ResourceIdentifier": dict(identifier),
                }
                for logical_id, identifier in mapping.items()
            ],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        )
    except ClientError as error:
        details = error.response["Error"]
        return f"refused: {details.get('Code')}: {details.get('Message')}"
    change_set = cfn.describe_change_set(StackName=stack_name, ChangeSetName="local-import")
    actions = sorted({c["ResourceChange"]["Action"] for c in change_set.get("Changes", [])})
    cfn.execute_change_set(StackName=stack_name, ChangeSetName="local-import")
    summaries = cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    physical = {s["LogicalResourceId"]: s.get("PhysicalResourceId") for s in summaries}
    adopted = [
        logical_id
        for logical_id, identifier in mapping.items()
        if physical.get(logical_id) in identifier.values()
    ]
    # The probe's resources are all Retain: deleting it leaves both old and new ones.
    cfn.delete_stack(StackName=stack_name)
    return (
        f"IMPORT change set accepted with actions {actions} (AWS: Import); executed, it "
        f"adopted {len(adopted)} of {len(mapping)} retained resources"
        + ("" if adopted else " and created new ones instead")
    )


def adopt(
    environment: Mapping[str, str], new: Mapping[str, str], retained: Mapping[str, str]
) -> dict[str, str]:
    """``environment`` with each value naming a new shared resource (by physical id)
    replaced by the retained one with the same logical id."""
    replacements = {new[logical_id]: retained[logical_id] for logical_id in retained}
    return {name: replacements.get(value, value) for name, value in environment.items()}
