"""ServiceWaker: a Lambda that wakes an ECS service from zero the moment work arrives.

The producer invokes it after a send (``ASYNC_TASKS_WAKER_FUNCTION``), and each
EventBridge rule and schedule feeding the service's queue invokes it too
(``TaskTriggers``'s ``wake``). It sets the desired count to 1 only at 0 with no task
running or starting (``runtime.waker``), so it never raises a count above 1 and target
tracking stays in charge of everything else.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from runtime.contract import (
    METRIC_CLUSTER_ENV,
    METRIC_SERVICE_ENV,
    NUDGED_BY_KEY,
    WAKER_HANDLER,
    ResourceRole,
)
from task_constructs.core.acknowledge import acknowledge_resource
from task_constructs.core.roles import mark_role
from task_constructs.core.runtime_function import RuntimeFunctionSettings, runtime_function

# A nudge older than this is stale: by then the backlog metric's wake-up alarm (one
# minute's datapoint) has acted, and a late wake would start a task for nothing.
NUDGE_MAX_AGE = Duration.minutes(1)


def nudge_rule_input(task_name: str) -> events.RuleTargetInput:
    return events.RuleTargetInput.from_object({NUDGED_BY_KEY: task_name})


def nudge_schedule_input(task_name: str) -> scheduler.ScheduleTargetInput:
    return scheduler.ScheduleTargetInput.from_object({NUDGED_BY_KEY: task_name})


LOST_NUDGE_REASON = (
    "A lost nudge has nothing to replay: the backlog metric's wake-up alarm wakes the "
    "service within a minute or two instead."
)


@dataclass(frozen=True, kw_only=True)
class ServiceWakerProps:
    """Properties of :class:`ServiceWaker`."""

    cluster: ecs.ICluster
    """The service's cluster."""

    service: ecs.BaseService
    """The service to wake; the function may describe and update this one only."""

    log_retention: logs.RetentionDays | None = None
    """Retention of the function's logs. Default: one month."""


class ServiceWaker(Construct):
    """``Function`` (with its ``Role`` and ``LogGroup``): ``grant_nudge`` lets a
    principal invoke it, and nothing else.

    Monthly cost: one Lambda request and about 0.1 s at 128 MB per nudge, nothing
    while idle.
    """

    def __init__(self, scope: Construct, construct_id: str, props: ServiceWakerProps) -> None:
        super().__init__(scope, construct_id)
        function, role = runtime_function(
            self,
            RuntimeFunctionSettings(
                handler=WAKER_HANDLER,
                description="Sets the worker service's desired count from 0 to 1 on a nudge",
                memory_mib=128,
                timeout=Duration.seconds(10),
                log_retention=props.log_retention,
                environment={
                    METRIC_CLUSTER_ENV: props.cluster.cluster_name,
                    METRIC_SERVICE_ENV: props.service.service_name,
                },
            ),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeServices", "ecs:UpdateService"],
                resources=[props.service.service_arn],
            )
        )
        function.configure_async_invoke(retry_attempts=0, max_event_age=NUDGE_MAX_AGE)
        acknowledge_resource(function, "Serverless-LambdaDLQ", LOST_NUDGE_REASON)
        acknowledge_resource(
            function.node.find_child("EventInvokeConfig"),
            "Serverless-LambdaAsyncFailureDestination",
            LOST_NUDGE_REASON,
        )
        mark_role(function, ResourceRole.WAKER)
        self.function: lambda_.Function = function

    def grant_nudge(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` invoke this function: ``lambda:InvokeFunction`` on its ARN
        alone (``grant_invoke`` would add ``<arn>:*``, every version and alias)."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["lambda:InvokeFunction"],
            resource_arns=[self.function.function_arn],
        )
