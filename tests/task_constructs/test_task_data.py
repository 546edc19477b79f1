"""TaskData: the buckets and the table, GuardDuty Malware Protection for S3, grants, environment.

Each test names the AWS documentation page that says why the setting matters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import CfnElement, Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template
from constructs import IConstruct

from runtime.contract import BUCKET_ENV, TABLE_ENV, UPLOAD_SCANNING_ENV
from stacks.topologies import new_app
from task_constructs.data_access import TASK_DATA_ACCESS
from task_constructs.task_data import TaskData, TaskDataProps
from tests.conftest import cdk_json_context

GUARDDUTY_PLAN_PRINCIPAL = "malware-protection-plan.guardduty.amazonaws.com"
# The ledger's own calls, besides its DeleteItem: claim, renew and complete.
LEDGER_TABLE_ACTIONS = frozenset({"dynamodb:GetItem", "dynamodb:UpdateItem"})
LEDGER_DELETE_CONDITION = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["idempotency#*"]}}

# Each task of data_access.py alone, a task it does not list, and one role running two.
GRANT_CASES: tuple[tuple[str, ...], ...] = (
    *((name,) for name in TASK_DATA_ACCESS),
    ("not-in-data-access",),
    ("generate-report", "send-bulk-email"),
)

# (action, resource, condition), the last two as JSON: statement merging cannot hide a change.
Grant = tuple[str, str, str]


@dataclass(frozen=True)
class Synth:
    stack: Stack
    data: TaskData
    template: Template
    roles: dict[tuple[str, ...], iam.Role]

    def id(self, construct: IConstruct) -> str:
        element = construct if isinstance(construct, CfnElement) else construct.node.default_child
        return self.stack.get_logical_id(element)  # type: ignore[arg-type]

    def resolve(self, value: Any) -> Any:
        return self.stack.resolve(value)

    def resource(self, construct: IConstruct) -> dict[str, Any]:
        return self.template.to_json()["Resources"][self.id(construct)]

    def bucket_policy(self, bucket_construct: IConstruct) -> list[dict[str, Any]]:
        policies = self.template.find_resources(
            "AWS::S3::BucketPolicy", {"Properties": {"Bucket": {"Ref": self.id(bucket_construct)}}}
        )
        (policy,) = policies.values()
        return list(policy["Properties"]["PolicyDocument"]["Statement"])

    def granted(self, role: iam.Role) -> set[Grant]:
        policy = role.node.find_child("DefaultPolicy")
        statements = self.resource(policy)["Properties"]["PolicyDocument"]["Statement"]
        return _grants(statements)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _grants(statements: Iterable[dict[str, Any]]) -> set[Grant]:
    grants: set[Grant] = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"]):
            for resource in _as_list(statement["Resource"]):
                grants.add((action, _json(resource), _json(statement.get("Condition"))))
    return grants


def _new_stack() -> Stack:
    """As the ``stack`` fixture, for a module-scoped fixture: one synth for many tests."""
    return Stack(new_app(context=cdk_json_context()), "Test")


@pytest.fixture(scope="module")
def plain() -> Synth:
    """Default props, plus one ECS task role per grant case."""
    stack = _new_stack()
    data = TaskData(stack, "Data")
    roles: dict[tuple[str, ...], iam.Role] = {}
    for index, tasks in enumerate(GRANT_CASES):
        role = iam.Role(
            stack, f"Role{index}", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com")
        )
        data.grant_task_access(role, tasks)
        roles[tasks] = role
    return Synth(stack, data, Template.from_stack(stack), roles)


@pytest.fixture(scope="module")
def protected() -> Synth:
    stack = _new_stack()
    data = TaskData(stack, "Data", TaskDataProps(malware_protection=True))
    return Synth(stack, data, Template.from_stack(stack), {})


# --- The buckets ----------------------------------------------------------------


def test_both_buckets_block_all_public_access(plain: Synth) -> None:
    # "Blocking public access to your Amazon S3 storage" (S3 User Guide): all four settings.
    plain.template.resource_count_is("AWS::S3::Bucket", 2)
    plain.template.all_resources_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            }
        },
    )


def test_both_buckets_deny_requests_without_tls(plain: Synth) -> None:
    # "Security best practices for Amazon S3": enforce encryption of data in transit with a
    # Deny on aws:SecureTransport "false", for the bucket and every object in it.
    for bucket in (plain.data.uploads_bucket, plain.data.access_logs_bucket):
        arn = plain.resolve(bucket.bucket_arn)
        assert {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": [arn, plain.resolve(bucket.arn_for_objects("*"))],
        } in plain.bucket_policy(bucket)


def test_both_buckets_encrypt_at_rest_with_s3_managed_keys(plain: Synth) -> None:
    # "Setting default server-side encryption behavior for Amazon S3 buckets": AES256 is SSE-S3.
    plain.template.all_resources_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            }
        },
    )


def test_both_buckets_disable_acls(plain: Synth) -> None:
    # "Controlling ownership of objects and disabling ACLs for your bucket": with
    # BucketOwnerEnforced only policies grant access, so the bucket policies below are all of it.
    plain.template.all_resources_properties(
        "AWS::S3::Bucket",
        {"OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}},
    )


def test_buckets_and_table_survive_stack_deletion_and_replacement(plain: Synth) -> None:
    # CloudFormation "DeletionPolicy attribute" and "UpdateReplacePolicy attribute": Retain
    # keeps users' data when the stack is deleted or the resource replaced.
    data = plain.data
    for construct in (data.uploads_bucket, data.access_logs_bucket, data.table):
        resource = plain.resource(construct)
        assert resource["DeletionPolicy"] == "Retain"
        assert resource["UpdateReplacePolicy"] == "Retain"


def test_bucket_policies_survive_with_their_buckets(plain: Synth) -> None:
    # "DeletionPolicy attribute": Retain keeps that resource only. A retained bucket
    # without its policy loses the TLS-only rule and the deny on unclean uploads.
    for bucket in (plain.data.uploads_bucket, plain.data.access_logs_bucket):
        assert bucket.policy is not None
        resource = plain.resource(bucket.policy)
        assert resource["DeletionPolicy"] == "Retain"
        assert resource["UpdateReplacePolicy"] == "Retain"


def test_uploads_lifecycle_keeps_old_versions_30_days_by_default(plain: Synth) -> None:
    # "Lifecycle configuration elements" (S3 User Guide): NoncurrentVersionExpiration,
    # ExpiredObjectDeleteMarker and AbortIncompleteMultipartUpload.
    rules = plain.resource(plain.data.uploads_bucket)["Properties"]["LifecycleConfiguration"]
    assert rules["Rules"] == [
        {
            "Id": "NoncurrentVersionsAndLeftovers",
            "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
            "ExpiredObjectDeleteMarker": True,
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        }
    ]


def test_noncurrent_version_days_below_one_is_refused() -> None:
    # S3 NoncurrentDays: "must be a positive integer"
    with pytest.raises(ValueError, match=r"noncurrent_version_days is 0; .* Give 1 or more$"):
        TaskDataProps(noncurrent_version_days=0)


def test_uploads_bucket_is_versioned(plain: Synth) -> None:
    # "GuardDuty Malware Protection for S3": a new version of an object is scanned too; with
    # versioning each scan result belongs to one exact version.
    assert plain.resource(plain.data.uploads_bucket)["Properties"]["VersioningConfiguration"] == {
        "Status": "Enabled"
    }


def test_uploads_bucket_logs_requests_to_the_access_logs_bucket(plain: Synth) -> None:
    # "Enabling Amazon S3 server access logging": with ACLs disabled on the destination, the
    # destination's bucket policy grants s3:PutObject to logging.s3.amazonaws.com, limited by
    # aws:SourceArn to the source bucket and aws:SourceAccount to the owner.
    data = plain.data
    logs_id = plain.id(data.access_logs_bucket)
    assert plain.resource(data.uploads_bucket)["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": logs_id},
        "LogFilePrefix": "uploads/",
    }
    assert {
        "Action": "s3:PutObject",
        "Condition": {
            "ArnLike": {"aws:SourceArn": plain.resolve(data.uploads_bucket.bucket_arn)},
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        },
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Resource": plain.resolve(data.access_logs_bucket.arn_for_objects("uploads/*")),
    } in plain.bucket_policy(data.access_logs_bucket)


def test_access_logs_expire_after_90_days(plain: Synth) -> None:
    # "AWS::S3::Bucket Rule" ExpirationInDays: S3 deletes the log objects; nothing keeps them.
    props = plain.resource(plain.data.access_logs_bucket)["Properties"]
    assert props["LifecycleConfiguration"] == {
        "Rules": [{"ExpirationInDays": 90, "Status": "Enabled"}]
    }


# --- The table ------------------------------------------------------------------


def test_table_has_string_keys_pk_and_sk_and_on_demand_billing(plain: Synth) -> None:
    # "AWS::DynamoDB::Table": HASH is the partition key, RANGE the sort key, "S" a string.
    props = plain.resource(plain.data.table)["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert props["AttributeDefinitions"] == [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in props


def test_table_expires_items_by_expires_at(plain: Synth) -> None:
    # "Using time to live (TTL) in DynamoDB": DynamoDB deletes items whose TTL attribute holds
    # an epoch-seconds time in the past; the runtime writes expires_at.
    props = plain.resource(plain.data.table)["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_table_has_point_in_time_recovery(plain: Synth) -> None:
    # "Point-in-time recovery for DynamoDB": continuous backups, restorable to any second.
    props = plain.resource(plain.data.table)["Properties"]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


# --- Grants ---------------------------------------------------------------------


def _expected_grants(synth: Synth, tasks: Iterable[str]) -> set[Grant]:
    """What data_access.py lists for ``tasks``, plus the ledger, as rendered grants."""
    data = synth.data
    table = _json(synth.resolve(data.table.table_arn))
    table_actions = set(LEDGER_TABLE_ACTIONS)
    objects: dict[str, set[str]] = {}
    for task in tasks:
        access = TASK_DATA_ACCESS.get(task)
        if access is None:
            continue
        table_actions |= access.table
        for prefix, actions in access.objects.items():
            objects.setdefault(prefix, set()).update(actions)
    expected = {(action, table, _json(None)) for action in table_actions}
    expected.add(("dynamodb:DeleteItem", table, _json(LEDGER_DELETE_CONDITION)))
    if any(objects.values()):
        expected.add(
            ("s3:ListBucket", _json(synth.resolve(data.uploads_bucket.bucket_arn)), _json(None))
        )
    for prefix, object_actions in objects.items():
        resource = _json(synth.resolve(data.uploads_bucket.arn_for_objects(f"{prefix}*")))
        expected |= {(action, resource, _json(None)) for action in object_actions}
    return expected


@pytest.mark.parametrize("tasks", GRANT_CASES, ids=lambda tasks: "+".join(tasks))
def test_grant_gives_exactly_what_data_access_lists_for_the_tasks(
    plain: Synth, tasks: tuple[str, ...]
) -> None:
    # Least privilege ("Security best practices in IAM"): the role gets the table and object
    # actions data_access.py lists, each on its own key prefix, and nothing else.
    assert plain.granted(plain.roles[tasks]) == _expected_grants(plain, tasks)


def test_grant_limits_the_ledgers_delete_to_idempotency_keys(plain: Synth) -> None:
    # "Using IAM policy conditions for fine-grained access control" (DynamoDB):
    # dynamodb:LeadingKeys matches the partition key of the item a request touches.
    table = _json(plain.resolve(plain.data.table.table_arn))
    for role in plain.roles.values():
        deletes = {grant for grant in plain.granted(role) if grant[0] == "dynamodb:DeleteItem"}
        assert deletes == {("dynamodb:DeleteItem", table, _json(LEDGER_DELETE_CONDITION))}


def test_grant_for_a_task_without_data_access_is_the_ledger_only(plain: Synth) -> None:
    # A task not in data_access.py touches no object: no s3:* at all ("GetObject" needs none).
    table = _json(plain.resolve(plain.data.table.table_arn))
    assert plain.granted(plain.roles[("not-in-data-access",)]) == {
        ("dynamodb:GetItem", table, _json(None)),
        ("dynamodb:UpdateItem", table, _json(None)),
        ("dynamodb:DeleteItem", table, _json(LEDGER_DELETE_CONDITION)),
    }


def test_grant_with_object_access_includes_list_bucket_for_404s(plain: Synth) -> None:
    # "GetObject" (S3 API Reference): without s3:ListBucket a missing key answers 403, not 404.
    bucket = _json(plain.resolve(plain.data.uploads_bucket.bucket_arn))
    grants = plain.granted(plain.roles[("property-bulk-upload",)])
    assert ("s3:ListBucket", bucket, _json(None)) in grants
    uploads = _json(plain.resolve(plain.data.uploads_bucket.arn_for_objects("uploads/*")))
    assert ("s3:GetObject", uploads, _json(None)) in grants
    assert ("s3:PutObject", uploads, _json(None)) not in grants


# --- Environment ----------------------------------------------------------------


def test_environment_names_the_table_and_the_uploads_bucket(plain: Synth) -> None:
    # "AWS::DynamoDB::Table" and "AWS::S3::Bucket": Ref returns the table's and bucket's name.
    # Without malware protection (the default) uploads load unscanned.
    assert plain.resolve(plain.data.environment) == {
        TABLE_ENV: {"Ref": plain.id(plain.data.table)},
        BUCKET_ENV: {"Ref": plain.id(plain.data.uploads_bucket)},
        UPLOAD_SCANNING_ENV: "off",
    }


def test_with_malware_protection_only_guardduty_clean_uploads_load(protected: Synth) -> None:
    assert protected.data.environment[UPLOAD_SCANNING_ENV] == "guardduty"


# --- GuardDuty Malware Protection for S3 -----------------------------------------


def test_no_malware_protection_by_default(plain: Synth) -> None:
    # Opt-in: "Pricing and usage cost for Malware Protection for S3" bills per GB and object.
    assert plain.data.malware_protection_plan is None
    plain.template.resource_count_is("AWS::GuardDuty::MalwareProtectionPlan", 0)
    assert not plain.template.find_resources(
        "AWS::IAM::Role",
        {
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [{"Principal": {"Service": GUARDDUTY_PLAN_PRINCIPAL}}]
                }
            }
        },
    )
    # Without scans nothing would ever tag an upload clean, so there is no tag-based deny.
    uploads_policy = json.dumps(plain.bucket_policy(plain.data.uploads_bucket))
    assert "ExistingObjectTag" not in uploads_policy


def test_plan_scans_the_uploads_prefix_and_tags_results(protected: Synth) -> None:
    # "AWS::GuardDuty::MalwareProtectionPlan": ProtectedResource.S3Bucket with ObjectPrefixes;
    # Actions.Tagging.Status ENABLED adds the GuardDutyMalwareScanStatus tag after a scan.
    plan = protected.data.malware_protection_plan
    assert plan is not None
    protected.template.resource_count_is("AWS::GuardDuty::MalwareProtectionPlan", 1)
    role_id = protected.id(protected.data.node.find_child("MalwareProtectionRole"))
    assert protected.resource(plan)["Properties"] == {
        "Actions": {"Tagging": {"Status": "ENABLED"}},
        "ProtectedResource": {
            "S3Bucket": {
                "BucketName": {"Ref": protected.id(protected.data.uploads_bucket)},
                "ObjectPrefixes": ["uploads/"],
            }
        },
        "Role": {"Fn::GetAtt": [role_id, "Arn"]},
    }


def test_plan_role_is_assumable_by_the_malware_protection_plan_service(protected: Synth) -> None:
    # "Create or update IAM role policy" (GuardDuty User Guide): the trust relationship names
    # malware-protection-plan.guardduty.amazonaws.com.
    role = protected.data.node.find_child("MalwareProtectionRole")
    statements = protected.resource(role)["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statements == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": GUARDDUTY_PLAN_PRINCIPAL},
        }
    ]


def test_plan_role_policy_is_the_one_guardduty_documents(protected: Synth) -> None:
    # "Create or update IAM role policy" (GuardDuty User Guide), statement by statement, with
    # the object statements narrowed to the scanned prefix and no KMS statement (SSE-S3).
    data = protected.data
    bucket = data.uploads_bucket
    rules = _json(
        protected.resolve(
            protected.stack.format_arn(
                service="events",
                resource="rule",
                resource_name="DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3*",
            )
        )
    )
    bucket_arn = _json(protected.resolve(bucket.bucket_arn))
    scanned = _json(protected.resolve(bucket.arn_for_objects("uploads/*")))
    validation = _json(
        protected.resolve(bucket.arn_for_objects("malware-protection-resource-validation-object"))
    )
    managed_by = _json({"StringLike": {"events:ManagedBy": GUARDDUTY_PLAN_PRINCIPAL}})
    none = _json(None)
    role = data.node.find_child("MalwareProtectionRole")
    policy = protected.resource(role.node.find_child("DefaultPolicy"))
    assert _grants(policy["Properties"]["PolicyDocument"]["Statement"]) == {
        # AllowManagedRuleToSendS3EventsToGuardDuty
        ("events:PutRule", rules, managed_by),
        ("events:DeleteRule", rules, managed_by),
        ("events:PutTargets", rules, managed_by),
        ("events:RemoveTargets", rules, managed_by),
        # AllowGuardDutyToMonitorEventBridgeManagedRule
        ("events:DescribeRule", rules, none),
        ("events:ListTargetsByRule", rules, none),
        # AllowPostScanTag
        ("s3:PutObjectTagging", scanned, none),
        ("s3:GetObjectTagging", scanned, none),
        ("s3:PutObjectVersionTagging", scanned, none),
        ("s3:GetObjectVersionTagging", scanned, none),
        # AllowEnableS3EventBridgeEvents
        ("s3:PutBucketNotification", bucket_arn, none),
        ("s3:GetBucketNotification", bucket_arn, none),
        # AllowPutValidationObject
        ("s3:PutObject", validation, none),
        # AllowCheckBucketOwnership
        ("s3:ListBucket", bucket_arn, none),
        # AllowMalwareScan
        ("s3:GetObject", scanned, none),
        ("s3:GetObjectVersion", scanned, none),
    }


def test_plan_depends_on_the_role_policy_not_only_the_role(protected: Synth) -> None:
    # "AWS::GuardDuty::MalwareProtectionPlan" takes the Role; GuardDuty checks the role's
    # permissions ("Create or update IAM role policy") when the plan is created, so the policy
    # must exist first. A Ref/GetAtt to the role orders the role only.
    plan = protected.data.malware_protection_plan
    assert plan is not None
    role = protected.data.node.find_child("MalwareProtectionRole")
    policy_id = protected.id(role.node.find_child("DefaultPolicy"))
    assert policy_id in protected.resource(plan).get("DependsOn", [])


def test_uploads_are_unreadable_until_guardduty_tags_them_clean(protected: Synth) -> None:
    # GuardDuty "Using tag-based access control (TBAC) with Malware Protection for S3": deny
    # s3:GetObject unless GuardDutyMalwareScanStatus is NO_THREATS_FOUND, except for the plan's
    # role, which must read objects to scan them.
    data = protected.data
    role_arn = {"Fn::GetAtt": [protected.id(data.node.find_child("MalwareProtectionRole")), "Arn"]}
    protected.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": protected.id(data.uploads_bucket)},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Principal": {"AWS": "*"},
                                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                                "Resource": protected.resolve(
                                    data.uploads_bucket.arn_for_objects("uploads/*")
                                ),
                                "Condition": {
                                    "StringNotEquals": {
                                        "s3:ExistingObjectTag/GuardDutyMalwareScanStatus": (
                                            "NO_THREATS_FOUND"
                                        )
                                    },
                                    "ArnNotEquals": {"aws:PrincipalArn": role_arn},
                                },
                            }
                        )
                    ]
                )
            },
        },
    )


def test_only_guardduty_may_tag_objects(protected: Synth) -> None:
    # Same TBAC page: a tag anyone could write would let anyone mark an upload clean.
    data = protected.data
    role_arn = {"Fn::GetAtt": [protected.id(data.node.find_child("MalwareProtectionRole")), "Arn"]}
    (deny,) = [
        statement
        for statement in protected.bucket_policy(data.uploads_bucket)
        if statement["Effect"] == "Deny" and "s3:PutObjectTagging" in _as_list(statement["Action"])
    ]
    assert set(deny["Action"]) == {
        "s3:PutObjectTagging",
        "s3:PutObjectVersionTagging",
        "s3:DeleteObjectTagging",
        "s3:DeleteObjectVersionTagging",
    }
    assert deny["Principal"] == {"AWS": "*"}
    assert deny["Resource"] == protected.resolve(data.uploads_bucket.arn_for_objects("*"))
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": role_arn}}
