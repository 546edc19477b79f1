"""The ECS service-linked role, created before the cluster on a first deploy."""

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from task_constructs.core import defaults
from task_constructs.core.acknowledge import acknowledge

ECS_SERVICE = "ecs.amazonaws.com"
ECS_SERVICE_LINKED_ROLE = "AWSServiceRoleForECS"
# The id of the one Lambda that CDK shares between a stack's AwsCustomResources.
_HANDLER_ID = "AWS679f53fac002430cb0da5b7982bd2287"


def ecs_service_linked_role(scope: Construct, construct_id: str) -> cr.AwsCustomResource:
    """A custom resource that calls iam:CreateServiceLinkedRole for ECS.

    In a fresh account the role may not exist yet when CloudFormation first creates a
    cluster, and CreateCluster then fails with "Unable to assume the service linked
    role" ("CreateCluster" in the ECS API reference; "Using service-linked roles for
    Amazon ECS"). Where it exists, IAM answers InvalidInput ("has been taken in this
    account"), which counts as success here (the error code is read from IAM's API
    reference, not seen on a live account). Deleting the stack leaves the role: other
    clusters in the account use it.
    """
    role_arn = Stack.of(scope).format_arn(
        service="iam",
        region="",
        resource="role",
        resource_name=f"aws-service-role/{ECS_SERVICE}/{ECS_SERVICE_LINKED_ROLE}",
    )
    resource = cr.AwsCustomResource(
        scope,
        construct_id,
        resource_type="Custom::EcsServiceLinkedRole",
        on_create=cr.AwsSdkCall(
            service="IAM",
            action="createServiceLinkedRole",
            parameters={"AWSServiceName": ECS_SERVICE},
            physical_resource_id=cr.PhysicalResourceId.of(ECS_SERVICE_LINKED_ROLE),
            # IAM's API reference lists InvalidInput for a name already taken; moto (the
            # local emulator) answers EntityAlreadyExists. Either means the role exists.
            ignore_error_codes_matching="InvalidInput|EntityAlreadyExists",
        ),
        policy=cr.AwsCustomResourcePolicy.from_statements(
            [
                iam.PolicyStatement(
                    actions=["iam:CreateServiceLinkedRole"],
                    resources=[role_arn],
                    conditions={"StringLike": {"iam:AWSServiceName": ECS_SERVICE}},
                )
            ]
        ),
        install_latest_aws_sdk=False,
        memory_size=128,
        # A log group of its own, with a generated name and the project's retention,
        # instead of CDK's /aws/lambda/<function> group kept two years.
        log_group=logs.LogGroup(
            scope, f"{construct_id}Logs", retention=defaults.FARGATE_LOG_RETENTION
        ),
    )
    handler = Stack.of(scope).node.find_child(_HANDLER_ID)
    runs_in_deploys = "CDK's AwsCustomResource handler runs only inside a deploy; "
    acknowledge(
        handler.node.find_child("ServiceRole"),
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AWSLambdaBasicExecutionRole]",
        runs_in_deploys + "the managed policy grants its log writes only.",
    )
    acknowledge(
        handler,
        "Serverless-LambdaDLQ",
        runs_in_deploys + "CloudFormation reports a failure and rolls back.",
    )
    acknowledge(handler, "Serverless-LambdaTracing", runs_in_deploys + "nothing to trace.")
    return resource
