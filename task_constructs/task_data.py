"""Shared data: the uploads bucket and the table for task state and idempotency."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_guardduty as guardduty
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from runtime.contract import BUCKET_ENV, TABLE_ENV, UPLOAD_SCANNING_ENV, UploadScanning
from runtime.contract.storage import SCAN_STATUS_TAG, UPLOADS_PREFIX, ScanStatus
from task_constructs.core import defaults
from task_constructs.core.acknowledge import acknowledge, acknowledge_resource, nag_resource_text
from task_constructs.core.defaults import given
from task_constructs.data_access import LEDGER_ACTIONS, LEDGER_PK_PREFIX, access_for

GUARDDUTY_PLAN_PRINCIPAL = "malware-protection-plan.guardduty.amazonaws.com"
# GuardDuty writes this object to check the role's access when the plan is created.
VALIDATION_OBJECT_KEY = "malware-protection-resource-validation-object"


@dataclass(frozen=True, kw_only=True)
class TaskDataProps:
    malware_protection: bool = False
    """Add a GuardDuty Malware Protection for S3 plan on the uploads bucket: every new
    object is scanned and the result published to EventBridge, where the
    virus-scan-result task picks it up; only versions found clean load. Billed per GB
    scanned and per object; opt-in. Default: false: uploads load unscanned, and their
    status says ``unscanned`` (``ASYNC_TASKS_UPLOAD_SCANNING=off``)."""

    noncurrent_version_days: int | None = None
    """Days the uploads bucket keeps a version after it is overwritten or deleted (S3
    ``NoncurrentVersionExpiration``). Default: 30 days. Expired delete markers are
    removed and incomplete multipart uploads aborted after 7 days either way."""

    def __post_init__(self) -> None:
        days = self.noncurrent_version_days
        if days is not None and days < 1:
            raise ValueError(
                f"TaskDataProps: noncurrent_version_days is {days}; S3 expires noncurrent "
                "versions after 1 day at the soonest. Give 1 or more"
            )


class TaskData(Construct):
    """The uploads bucket, its access-log bucket and the task table.

    All three are retained on stack deletion, and so are the buckets' policies: they hold
    users' data, and without its policy a retained bucket loses the TLS-only rule and the
    deny on infected uploads.
    """

    def __init__(
        self, scope: Construct, construct_id: str, props: TaskDataProps | None = None
    ) -> None:
        super().__init__(scope, construct_id)
        props = props if props is not None else TaskDataProps()
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.access_logs_bucket,
            "AwsSolutions-S1",
            "This bucket is the access-log destination; logging it would recurse.",
        )
        # Versioned, so a scan result names the exact object version it judged.
        self.uploads_bucket = s3.Bucket(
            self,
            "UploadsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="uploads/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="NoncurrentVersionsAndLeftovers",
                    noncurrent_version_expiration=Duration.days(
                        given(props.noncurrent_version_days, defaults.NONCURRENT_VERSION_DAYS)
                    ),
                    expired_object_delete_marker=True,
                    abort_incomplete_multipart_upload_after=defaults.INCOMPLETE_UPLOAD_DAYS,
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        # A classic table (AWS::DynamoDB::Table): the local emulator deploys it, and a
        # single-region table needs nothing that TableV2's global-table type adds.
        self.table = dynamodb.Table(
            self,
            "TaskTable",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expires_at",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.malware_protection_plan: guardduty.CfnMalwareProtectionPlan | None = (
            self._malware_protection() if props.malware_protection else None
        )
        # CDK leaves a bucket's policy deletable even when the bucket is retained.
        for bucket in (self.access_logs_bucket, self.uploads_bucket):
            if bucket.policy is not None:
                bucket.policy.apply_removal_policy(RemovalPolicy.RETAIN)

    @property
    def environment(self) -> dict[str, str]:
        """What task code needs to find the shared data, and whether uploads are scanned
        before they load (without malware protection they load unscanned, and say so)."""
        scanning = (
            UploadScanning.GUARDDUTY
            if self.malware_protection_plan is not None
            else UploadScanning.OFF
        )
        return {
            TABLE_ENV: self.table.table_name,
            BUCKET_ENV: self.uploads_bucket.bucket_name,
            UPLOAD_SCANNING_ENV: str(scanning),
        }

    def grant_task_access(self, grantee: iam.IGrantable, tasks: Iterable[str]) -> None:
        """Exactly what the code of ``tasks`` does with the table and the bucket.

        See ``task_constructs/data_access.py``: object actions per key prefix, table actions per
        task, and the idempotency ledger's DeleteItem only on its own keys.
        """
        access = access_for(tasks)
        table_actions = sorted(access.table | (LEDGER_ACTIONS - {"dynamodb:DeleteItem"}))
        iam.Grant.add_to_principal(
            grantee=grantee, actions=table_actions, resource_arns=[self.table.table_arn]
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["dynamodb:DeleteItem"],
            resource_arns=[self.table.table_arn],
            conditions={
                "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{LEDGER_PK_PREFIX}*"]}
            },
        )
        bucket = self.uploads_bucket
        principal = grantee.grant_principal
        policy = (
            principal.node.try_find_child("DefaultPolicy")
            if isinstance(principal, iam.Role)
            else None
        )
        if any(access.objects.values()):
            # Without s3:ListBucket, S3 answers a missing key with 403 instead of 404
            # ("GetObject": "If you don't have the s3:ListBucket permission, Amazon S3
            # returns an HTTP status code 403"), and the tasks tell the two apart.
            iam.Grant.add_to_principal(
                grantee=grantee, actions=["s3:ListBucket"], resource_arns=[bucket.bucket_arn]
            )
        for prefix, actions in access.objects.items():
            if not actions:
                continue
            objects = bucket.arn_for_objects(f"{prefix}*")
            iam.Grant.add_to_principal(
                grantee=grantee, actions=sorted(actions), resource_arns=[objects]
            )
            if policy is not None:
                acknowledge_resource(
                    policy,
                    f"AwsSolutions-IAM5[Resource::{nag_resource_text(self, objects)}]",
                    "Tasks read and write objects under keys known only at run time; "
                    f"the statement is scoped to the {prefix} prefix of the uploads bucket.",
                )

    def _malware_protection(self) -> guardduty.CfnMalwareProtectionPlan:
        """The plan, its role with the policy GuardDuty documents, and tag-based access.

        Role policy: "Create or update IAM role policy" in the GuardDuty user guide
        (https://docs.aws.amazon.com/guardduty/latest/ug/malware-protection-s3-iam-policy-prerequisite.html),
        with the object statements narrowed to the scanned prefix, as that page advises
        for a plan with object prefixes. The bucket uses SSE-S3, so the page's KMS
        statement does not apply. Read from AWS's page as stored offline; not deployed.
        """
        bucket = self.uploads_bucket
        managed_rules = Stack.of(self).format_arn(
            service="events",
            resource="rule",
            resource_name="DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3*",
        )
        scanned = bucket.arn_for_objects(f"{UPLOADS_PREFIX}*")
        role = iam.Role(
            self,
            "MalwareProtectionRole",
            assumed_by=iam.ServicePrincipal(GUARDDUTY_PLAN_PRINCIPAL),
            description="GuardDuty Malware Protection for S3 on the uploads bucket",
        )
        statements = [
            # AllowManagedRuleToSendS3EventsToGuardDuty
            iam.PolicyStatement(
                actions=[
                    "events:PutRule",
                    "events:DeleteRule",
                    "events:PutTargets",
                    "events:RemoveTargets",
                ],
                resources=[managed_rules],
                conditions={"StringLike": {"events:ManagedBy": GUARDDUTY_PLAN_PRINCIPAL}},
            ),
            # AllowGuardDutyToMonitorEventBridgeManagedRule
            iam.PolicyStatement(
                actions=["events:DescribeRule", "events:ListTargetsByRule"],
                resources=[managed_rules],
            ),
            # AllowPostScanTag
            iam.PolicyStatement(
                actions=[
                    "s3:PutObjectTagging",
                    "s3:GetObjectTagging",
                    "s3:PutObjectVersionTagging",
                    "s3:GetObjectVersionTagging",
                ],
                resources=[scanned],
            ),
            # AllowEnableS3EventBridgeEvents
            iam.PolicyStatement(
                actions=["s3:PutBucketNotification", "s3:GetBucketNotification"],
                resources=[bucket.bucket_arn],
            ),
            # AllowPutValidationObject
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(VALIDATION_OBJECT_KEY)],
            ),
            # AllowCheckBucketOwnership
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]),
            # AllowMalwareScan
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[scanned]
            ),
        ]
        for statement in statements:
            role.add_to_policy(statement)
        policy = role.node.find_child("DefaultPolicy")
        acknowledge_resource(
            policy,
            f"AwsSolutions-IAM5[Resource::{nag_resource_text(self, scanned)}]",
            "GuardDuty scans and tags any new object under uploads/; scoped to that prefix.",
        )
        acknowledge_resource(
            policy,
            f"AwsSolutions-IAM5[Resource::{nag_resource_text(self, managed_rules)}]",
            "GuardDuty creates its own EventBridge rules under this fixed name prefix.",
        )
        self._tag_based_access_control(role)
        plan = guardduty.CfnMalwareProtectionPlan(
            self,
            "MalwareProtectionPlan",
            role=role.role_arn,
            protected_resource=guardduty.CfnMalwareProtectionPlan.CFNProtectedResourceProperty(
                s3_bucket=guardduty.CfnMalwareProtectionPlan.S3BucketProperty(
                    bucket_name=bucket.bucket_name,
                    # Only what users upload: results, reports and recipient lists are
                    # written by tasks and need no scan (nor its per-GB price).
                    object_prefixes=[UPLOADS_PREFIX],
                )
            ),
            actions=guardduty.CfnMalwareProtectionPlan.CFNActionsProperty(
                tagging=guardduty.CfnMalwareProtectionPlan.CFNTaggingProperty(status="ENABLED")
            ),
        )
        # GuardDuty validates the role when the plan is created: the policy must exist
        # first, not only the role (Ref to the role alone orders just the role).
        plan.node.add_dependency(policy)
        return plan

    def _tag_based_access_control(self, plan_role: iam.IRole) -> None:
        """Deny reading unscanned or unclean uploads, and tagging, to all but GuardDuty.

        GuardDuty's "Using tag-based access control (TBAC)" with Malware Protection for
        S3: a bucket policy denies s3:GetObject unless the object's
        ``GuardDutyMalwareScanStatus`` tag is ``NO_THREATS_FOUND``. An object not yet
        scanned has no tag, and StringNotEquals on a missing key matches, so it is
        denied too. Only the plan's role may write tags: a forged
        ``NO_THREATS_FOUND`` tag (or a PutObject carrying one, which needs
        s3:PutObjectTagging) is refused for every other principal.
        """
        bucket = self.uploads_bucket
        not_guardduty = {"ArnNotEquals": {"aws:PrincipalArn": plan_role.role_arn}}
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyReadingUploadsWithoutACleanScan",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[bucket.arn_for_objects(f"{UPLOADS_PREFIX}*")],
                conditions={
                    "StringNotEquals": {
                        f"s3:ExistingObjectTag/{SCAN_STATUS_TAG}": str(ScanStatus.NO_THREATS_FOUND)
                    },
                    **not_guardduty,
                },
            )
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyGuardDutyTagsObjects",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=[
                    "s3:PutObjectTagging",
                    "s3:PutObjectVersionTagging",
                    "s3:DeleteObjectTagging",
                    "s3:DeleteObjectVersionTagging",
                ],
                resources=[bucket.arn_for_objects("*")],
                conditions=not_guardduty,
            )
        )
