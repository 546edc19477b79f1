"""The right to hold ECS task scale-in protection, for consumers that hold messages."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from constructs import Construct

from task_constructs.core.acknowledge import acknowledge_resource, nag_resource_text

# "Protect your Amazon ECS tasks from being terminated by scale-in events": the task
# role calls these through the ECS agent's endpoint ($ECS_AGENT_URI/task-protection/v1).
TASK_PROTECTION_ACTIONS = ("ecs:UpdateTaskProtection", "ecs:GetTaskProtection")


def grant_task_protection(scope: Construct, role: iam.IRole, cluster: ecs.ICluster) -> None:
    """Let ``role`` protect the tasks of ``cluster`` (its own task's id is known only
    at run time, so the statement names the cluster's tasks)."""
    task_arns = Stack.of(scope).format_arn(
        service="ecs", resource="task", resource_name=f"{cluster.cluster_name}/*"
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=list(TASK_PROTECTION_ACTIONS), resources=[task_arns])
    )
    acknowledge_resource(
        role.node.find_child("DefaultPolicy"),
        f"AwsSolutions-IAM5[Resource::{nag_resource_text(scope, task_arns)}]",
        "A consumer protects its own task, whose id is known only at run time; the "
        "statement is scoped to this cluster's tasks.",
    )
