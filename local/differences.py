"""What the emulator changed or dropped: each deployed resource read back with its
service's describe calls and compared with the template, property by property.

Only literal template values are compared (a Ref or Fn:: value is moto's to resolve);
a property the template leaves out is compared with AWS's documented default where
one is listed here (Lambda's architecture). Each finding is one line:

- ``CHANGED``: the emulator holds another value than the template asks for;
- ``DROPPED``: the emulator holds none (the describe call reports nothing);
- ``UNVERIFIED``: the emulator cannot report the property back (its describe call
  is not implemented), so nothing is known either way.

Nothing is hand-listed: adding a property to the reads below is enough for it to be
checked on every resource of that type.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

import boto3
from botocore.exceptions import ClientError

from comparison.inputs.templates import read_template
from local.cloudformation import DeployedStack

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_ecs.client import ECSClient
    from mypy_boto3_lambda.client import LambdaClient
    from mypy_boto3_logs.client import CloudWatchLogsClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_sqs.client import SQSClient


class Clients(Protocol):
    """A boto3 client for each service the reads call; ``boto3.client`` is one."""

    @overload
    def __call__(self, service: Literal["dynamodb"], /) -> DynamoDBClient: ...
    @overload
    def __call__(self, service: Literal["ecs"], /) -> ECSClient: ...
    @overload
    def __call__(self, service: Literal["lambda"], /) -> LambdaClient: ...
    @overload
    def __call__(self, service: Literal["logs"], /) -> CloudWatchLogsClient: ...
    @overload
    def __call__(self, service: Literal["s3"], /) -> S3Client: ...
    @overload
    def __call__(self, service: Literal["sqs"], /) -> SQSClient: ...


# What a property reads back as when the emulator has none.
ABSENT = object()
Read = Callable[[Clients, str], Mapping[str, Any]]
# Template defaults AWS applies when a property is left out (documented per resource).
DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "AWS::Lambda::Function": {"Architectures": ["x86_64"]},
}


def _absent_on(*codes: str) -> Callable[[Callable[[], Any]], Any]:
    def call(fetch: Callable[[], Any]) -> Any:
        try:
            return fetch()
        except ClientError as error:
            if error.response["Error"]["Code"] in codes:
                return ABSENT
            raise

    return call


def _lambda(clients: Clients, physical_id: str) -> Mapping[str, Any]:
    config = clients("lambda").get_function_configuration(FunctionName=physical_id)
    return {
        "Architectures": config.get("Architectures", ABSENT),
        "Runtime": config.get("Runtime", ABSENT),
        "MemorySize": config.get("MemorySize", ABSENT),
        "Timeout": config.get("Timeout", ABSENT),
        "Handler": config.get("Handler", ABSENT),
        "TracingConfig.Mode": config.get("TracingConfig", {}).get("Mode", ABSENT),
        "EphemeralStorage.Size": config.get("EphemeralStorage", {}).get("Size", ABSENT),
        "Layers.length": len(config.get("Layers", [])),
        "LoggingConfig.LogFormat": config.get("LoggingConfig", {}).get("LogFormat", ABSENT),
    }


def _table(clients: Clients, physical_id: str) -> Mapping[str, Any]:
    dynamodb = clients("dynamodb")
    table = dynamodb.describe_table(TableName=physical_id)["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=physical_id)["TimeToLiveDescription"]
    backups = dynamodb.describe_continuous_backups(TableName=physical_id)
    pitr = backups["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})
    return {
        "BillingMode": table.get("BillingModeSummary", {}).get("BillingMode", ABSENT),
        "TimeToLiveSpecification.Enabled": ttl.get("TimeToLiveStatus") == "ENABLED",
        "TimeToLiveSpecification.AttributeName": ttl.get("AttributeName", ABSENT),
        "PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled": (
            pitr.get("PointInTimeRecoveryStatus") == "ENABLED"
        ),
        "DeletionProtectionEnabled": table.get("DeletionProtectionEnabled", False),
        "SSESpecification.SSEEnabled": table.get("SSEDescription", {}).get("Status") == "ENABLED",
    }


def _bucket(clients: Clients, physical_id: str) -> Mapping[str, Any]:
    s3 = clients("s3")
    block = _absent_on("NoSuchPublicAccessBlockConfiguration")(
        lambda: s3.get_public_access_block(Bucket=physical_id)["PublicAccessBlockConfiguration"]
    )
    encryption = _absent_on("ServerSideEncryptionConfigurationNotFoundError")(
        lambda: s3.get_bucket_encryption(Bucket=physical_id)["ServerSideEncryptionConfiguration"]
    )
    lifecycle = _absent_on("NoSuchLifecycleConfiguration")(
        lambda: s3.get_bucket_lifecycle_configuration(Bucket=physical_id)["Rules"]
    )
    ownership = _absent_on("OwnershipControlsNotFoundError")(
        lambda: s3.get_bucket_ownership_controls(Bucket=physical_id)["OwnershipControls"]
    )
    logging = s3.get_bucket_logging(Bucket=physical_id).get("LoggingEnabled", ABSENT)
    read: dict[str, Any] = {
        "VersioningConfiguration.Status": s3.get_bucket_versioning(Bucket=physical_id).get(
            "Status", ABSENT
        ),
        "LifecycleConfiguration.Rules.length": ABSENT if lifecycle is ABSENT else len(lifecycle),
        "LoggingConfiguration.LogFilePrefix": (
            ABSENT if logging is ABSENT else logging.get("TargetPrefix", "")
        ),
        "OwnershipControls.Rules.0.ObjectOwnership": (
            ABSENT if ownership is ABSENT else ownership["Rules"][0]["ObjectOwnership"]
        ),
        "BucketEncryption.ServerSideEncryptionConfiguration.0.ServerSideEncryptionByDefault."
        "SSEAlgorithm": (
            ABSENT
            if encryption is ABSENT
            else encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
        ),
    }
    for name in (
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ):
        read[f"PublicAccessBlockConfiguration.{name}"] = (
            ABSENT if block is ABSENT else block.get(name, ABSENT)
        )
    return read


def _queue(clients: Clients, physical_id: str) -> Mapping[str, Any]:
    attributes = clients("sqs").get_queue_attributes(QueueUrl=physical_id, AttributeNames=["All"])[
        "Attributes"
    ]
    read: dict[str, Any] = {
        name: attributes.get(name, ABSENT)
        for name in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "ReceiveMessageWaitTimeSeconds",
            "DelaySeconds",
            "MaximumMessageSize",
            "SqsManagedSseEnabled",
            "KmsMasterKeyId",
        )
    }
    redrive = json.loads(attributes["RedrivePolicy"]) if "RedrivePolicy" in attributes else {}
    read["RedrivePolicy.maxReceiveCount"] = redrive.get("maxReceiveCount", ABSENT)
    return read


def _mapping(clients: Clients, physical_id: str) -> Mapping[str, Any]:
    mapping = clients("lambda").get_event_source_mapping(UUID=physical_id)
    return {
        "BatchSize": mapping.get("BatchSize", ABSENT),
        "MaximumBatchingWindowInSeconds": mapping.get("MaximumBatchingWindowInSeconds", ABSENT),
        "FunctionResponseTypes": mapping.get("FunctionResponseTypes", ABSENT),
        "ScalingConfig.MaximumConcurrency": mapping.get("ScalingConfig", {}).get(
            "MaximumConcurrency", ABSENT
        ),
    }


def _task_definition(clients: Clients, physical_id: str) -> Mapping[str, Any]:
    definition = clients("ecs").describe_task_definition(taskDefinition=physical_id)
    task = definition["taskDefinition"]
    platform = task.get("runtimePlatform", {})
    read: dict[str, Any] = {
        "Cpu": task.get("cpu", ABSENT),
        "Memory": task.get("memory", ABSENT),
        "NetworkMode": task.get("networkMode", ABSENT),
        "RuntimePlatform.CpuArchitecture": platform.get("cpuArchitecture", ABSENT),
        "RuntimePlatform.OperatingSystemFamily": platform.get("operatingSystemFamily", ABSENT),
    }
    for n, container in enumerate(task["containerDefinitions"]):
        prefix = f"ContainerDefinitions.{n}."
        read[prefix + "StopTimeout"] = container.get("stopTimeout", ABSENT)
        read[prefix + "HealthCheck.Interval"] = container.get("healthCheck", {}).get(
            "interval", ABSENT
        )
        read[prefix + "ReadonlyRootFilesystem"] = container.get("readonlyRootFilesystem", ABSENT)
    return read


def _log_group(clients: Clients, physical_id: str) -> Mapping[str, Any]:
    groups = clients("logs").describe_log_groups(logGroupNamePrefix=physical_id)["logGroups"]
    group: Mapping[str, Any] = next((g for g in groups if g["logGroupName"] == physical_id), {})
    return {"RetentionInDays": group.get("retentionInDays", ABSENT)}


READS: Mapping[str, Read] = {
    "AWS::Lambda::Function": _lambda,
    "AWS::DynamoDB::Table": _table,
    "AWS::S3::Bucket": _bucket,
    "AWS::SQS::Queue": _queue,
    "AWS::Lambda::EventSourceMapping": _mapping,
    "AWS::ECS::TaskDefinition": _task_definition,
    "AWS::Logs::LogGroup": _log_group,
}


def _template_value(properties: Mapping[str, Any], path: str) -> Any:
    value: Any = properties
    for part in path.split("."):
        if part == "length":
            return len(value) if isinstance(value, list) else ABSENT
        if isinstance(value, list):
            if not part.isdigit() or int(part) >= len(value):
                return ABSENT
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return ABSENT
    return value


def _literal(value: Any) -> bool:
    text = json.dumps(value)
    return '"Ref"' not in text and '"Fn::' not in text


def _same(template: Any, emulator: Any) -> bool:
    def norm(value: Any) -> str:
        if isinstance(value, list):
            return json.dumps(sorted(norm(v) for v in value))
        return str(value).lower()

    return norm(template) == norm(emulator)


@dataclass(frozen=True)
class Finding:
    kind: str  # CHANGED, DROPPED or UNVERIFIED
    logical_id: str
    type: str
    path: str = ""
    template: str = ""
    emulator: str = ""

    def line(self) -> str:
        where = f"{self.logical_id} ({self.type})" + (f" {self.path}" if self.path else "")
        if self.kind == "DROPPED":
            return f"DROPPED {where}: template {self.template}, the emulator has none"
        if self.kind == "CHANGED":
            return f"CHANGED {where}: template {self.template}, the emulator {self.emulator}"
        return f"UNVERIFIED {where}: the emulator cannot report it back ({self.emulator})"


def differences(stack: DeployedStack, template_path: Any) -> list[Finding]:
    """Every property the emulator changed, dropped or cannot report, per resource."""
    template = read_template(template_path).resources

    clients: Clients = boto3.client

    found: list[Finding] = []
    for resource in stack.created:
        read = READS.get(resource.type)
        if read is None or resource.logical_id not in template:
            continue
        properties = {
            **DEFAULTS.get(resource.type, {}),
            **template[resource.logical_id].properties,
        }
        try:
            actual = read(clients, resource.physical_id)
        except (ClientError, NotImplementedError, KeyError) as error:
            reason = f"{type(error).__name__}: {str(error)[:80]}"
            found.append(Finding("UNVERIFIED", resource.logical_id, resource.type, "", "", reason))
            continue
        for path, emulator in actual.items():
            wanted = _template_value(properties, path)
            if wanted is ABSENT or not _literal(wanted):
                continue
            if emulator is ABSENT:
                kind = "DROPPED"
            elif not _same(wanted, emulator):
                kind = "CHANGED"
            else:
                continue
            found.append(
                Finding(
                    kind,
                    resource.logical_id,
                    resource.type,
                    path,
                    json.dumps(wanted),
                    "" if emulator is ABSENT else json.dumps(emulator, default=str),
                )
            )
    return found


def report_lines(findings: list[Finding]) -> list[str]:
    """One line per difference, resources that differ alike on one line."""
    groups: dict[tuple[str, str, str, str, str], list[str]] = {}
    for f in findings:
        groups.setdefault((f.kind, f.type, f.path, f.template, f.emulator), []).append(f.logical_id)
    lines = []
    for (kind, type_, path, wanted, emulator), ids in groups.items():
        sample = Finding(kind, ", ".join(ids), type_, path, wanted, emulator)
        lines.append(sample.line())
    return lines
