"""Shared data: the uploads bucket and the table for task state and idempotency."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_guardduty as guardduty
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from runtime.tasks._records import BUCKET_ENV, TABLE_ENV
from task_constructs._acknowledge import acknowledge, acknowledge_resource, nag_resource_text


@dataclass(frozen=True, kw_only=True)
class TaskDataProps:
    malware_protection: bool = False
    """Add a GuardDuty Malware Protection for S3 plan on the uploads bucket: every new
    object is scanned and the result published to EventBridge, where the
    virus-scan-result task picks it up. Billed per GB scanned and per object; opt-in.
    Default: false."""


class TaskData(Construct):
    """The uploads bucket, its access-log bucket and the task table.

    All three are retained on stack deletion: they hold users' data.
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

    @property
    def environment(self) -> dict[str, str]:
        """What task code needs to find the shared data."""
        return {
            TABLE_ENV: self.table.table_name,
            BUCKET_ENV: self.uploads_bucket.bucket_name,
        }

    def grant_task_access(self, grantee: iam.IGrantable) -> None:
        """What task code needs: read and write the table and the uploads' objects.

        Explicit actions instead of ``grant_read_write``, whose ``s3:*Object*``
        wildcards would also allow deleting object versions and changing ACLs.
        """
        self.table.grant_read_write_data(grantee)
        bucket = self.uploads_bucket
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:GetObjectTagging",
                "s3:PutObject",
                "s3:PutObjectTagging",
                "s3:DeleteObject",
                # quarantine removes the infected version itself, not just its marker
                "s3:DeleteObjectVersion",
                "s3:AbortMultipartUpload",
            ],
            resource_arns=[bucket.arn_for_objects("*")],
        )
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:ListBucket"], resource_arns=[bucket.bucket_arn]
        )
        principal = grantee.grant_principal
        policy = (
            principal.node.try_find_child("DefaultPolicy")
            if isinstance(principal, iam.Role)
            else None
        )
        if policy is not None:
            objects = nag_resource_text(self, bucket.arn_for_objects("*"))
            acknowledge_resource(
                policy,
                f"AwsSolutions-IAM5[Resource::{objects}]",
                "Tasks read uploads and write results under keys known only at run time; "
                "the statement is scoped to the uploads bucket.",
            )

    def _malware_protection(self) -> guardduty.CfnMalwareProtectionPlan:
        bucket = self.uploads_bucket
        managed_rules = Stack.of(self).format_arn(
            service="events",
            resource="rule",
            resource_name="DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3*",
        )
        role = iam.Role(
            self,
            "MalwareProtectionRole",
            assumed_by=iam.ServicePrincipal("malware-protection-plan.guardduty.amazonaws.com"),
            description="GuardDuty Malware Protection for S3 on the uploads bucket",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:GetObjectTagging",
                    "s3:GetObjectVersionTagging",
                    "s3:PutObjectTagging",
                    "s3:PutObjectVersionTagging",
                ],
                resources=[bucket.arn_for_objects("*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket", "s3:GetBucketNotification", "s3:PutBucketNotification"],
                resources=[bucket.bucket_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "events:PutRule",
                    "events:DeleteRule",
                    "events:PutTargets",
                    "events:RemoveTargets",
                    "events:DescribeRule",
                ],
                resources=[managed_rules],
            )
        )
        policy = role.node.find_child("DefaultPolicy")
        acknowledge_resource(
            policy,
            f"AwsSolutions-IAM5[Resource::{nag_resource_text(self, bucket.arn_for_objects('*'))}]",
            "GuardDuty scans and tags any new object in the uploads bucket; scoped to it.",
        )
        acknowledge_resource(
            policy,
            f"AwsSolutions-IAM5[Resource::{nag_resource_text(self, managed_rules)}]",
            "GuardDuty creates its own EventBridge rules under this fixed name prefix.",
        )
        return guardduty.CfnMalwareProtectionPlan(
            self,
            "MalwareProtectionPlan",
            role=role.role_arn,
            protected_resource=guardduty.CfnMalwareProtectionPlan.CFNProtectedResourceProperty(
                s3_bucket=guardduty.CfnMalwareProtectionPlan.S3BucketProperty(
                    bucket_name=bucket.bucket_name
                )
            ),
            actions=guardduty.CfnMalwareProtectionPlan.CFNActionsProperty(
                tagging=guardduty.CfnMalwareProtectionPlan.CFNTaggingProperty(status="ENABLED")
            ),
        )
