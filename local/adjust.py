"""Where moto's CloudFormation differs from AWS in ways the runtime would notice.

Each adjustment is applied after the deploy and reported by local.deploy, never
silently; docs/local.md lists them.
"""

from __future__ import annotations

from typing import Any

import boto3

from comparison.inputs.templates import read_template
from local.cloudformation import DeployedStack


def disable_event_source_mappings(stack: DeployedStack) -> list[str]:
    """moto's mapping receives on every SendMessage, fails to run the function (no
    Docker) and makes the batch visible again: each send bumps the receive count of
    messages already queued, so they reach maxReceiveCount and the DLQ unprocessed.
    local.lambda_sqs polls the queues instead."""
    lambda_client = boto3.client("lambda")
    notes = []
    for mapping in stack.of_type("AWS::Lambda::EventSourceMapping"):
        lambda_client.update_event_source_mapping(UUID=mapping.physical_id, Enabled=False)
        notes.append(
            f"DISABLED {mapping.logical_id} (AWS::Lambda::EventSourceMapping): moto cannot "
            "invoke the function; poll with local.lambda_sqs"
        )
    return notes


def apply_bucket_versioning(stack: DeployedStack, template_path: Any) -> list[str]:
    """moto's AWS::S3::Bucket ignores VersioningConfiguration; the scan-result handler
    judges one exact version by its id, so apply what the template declares."""
    s3 = boto3.client("s3")
    notes = []
    for resource in read_template(template_path).of_type("AWS::S3::Bucket"):
        versioning = resource.properties.get("VersioningConfiguration")
        if not versioning:
            continue
        logical_id = resource.logical_id
        bucket = stack.physical_id(logical_id)
        if s3.get_bucket_versioning(Bucket=bucket).get("Status") == versioning["Status"]:
            continue
        s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": versioning["Status"]}
        )
        notes.append(
            f"APPLIED {logical_id} VersioningConfiguration={versioning['Status']}: moto's "
            "CloudFormation ignores the property"
        )
    return notes


def create_ses_configuration_sets(
    stack: DeployedStack, template_path: Any
) -> tuple[dict[str, str], list[str]]:
    """moto's CloudFormation skips AWS::SES::ConfigurationSet, so the consumers' Ref to
    it resolves to nothing; create it through the SES API (moto supports that) and hand
    its name to local.runtime_env. Its event destination stays checked on the template."""
    ses = boto3.client("ses")
    skipped = {r.logical_id for r in stack.skipped}
    substitutes: dict[str, str] = {}
    notes = []
    for resource in read_template(template_path).of_type("AWS::SES::ConfigurationSet"):
        logical_id = resource.logical_id
        if logical_id not in skipped:
            continue
        name = resource.properties.get("Name") or f"{stack.name}-{logical_id}"
        ses.create_configuration_set(ConfigurationSet={"Name": name})
        substitutes[logical_id] = name
        notes.append(
            f"CREATED {logical_id} (AWS::SES::ConfigurationSet) as '{name}' with the SES API: "
            "moto's CloudFormation skips the type"
        )
    return substitutes, notes
