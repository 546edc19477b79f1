"""Let a task send templated email through SES as one sender identity, and read the
account's send quota, whose rate every sending process shares."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

from task_constructs.core.acknowledge import acknowledge_resource, nag_resource_text


def grant_send_email(role: iam.IRole, sender: str, configuration_set: str | None = None) -> None:
    """SES templated sends from ``sender`` (an address; its domain identity also works),
    through ``configuration_set`` when given."""
    stack = Stack.of(role)
    domain = sender.rpartition("@")[2]
    identities = [
        stack.format_arn(service="ses", resource="identity", resource_name=name)
        for name in dict.fromkeys((sender, domain))
    ]
    templates = stack.format_arn(service="ses", resource="template", resource_name="*")
    sets = (
        [
            stack.format_arn(
                service="ses", resource="configuration-set", resource_name=configuration_set
            )
        ]
        if configuration_set is not None
        else []
    )
    iam.Grant.add_to_principal(
        grantee=role,
        actions=["ses:SendBulkTemplatedEmail", "ses:SendTemplatedEmail"],
        resource_arns=[*identities, templates, *sets],
    )
    # The account's send rate, which every sending process shares (runtime.tasks.email.rate).
    # GetSendQuota has no resource type, so it takes "*" (Service Authorization
    # Reference, Amazon SES: GetSendQuota; not verified offline).
    iam.Grant.add_to_principal(grantee=role, actions=["ses:GetSendQuota"], resource_arns=["*"])
    policy = role.node.try_find_child("DefaultPolicy")
    if policy is not None:
        acknowledge_resource(
            policy,
            f"AwsSolutions-IAM5[Resource::{nag_resource_text(policy, templates)}]",
            "Email templates are chosen per campaign at run time; sending is still "
            "limited to the one sender identity.",
        )
        acknowledge_resource(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "ses:GetSendQuota reads the account's SES send rate and has no resource type; "
            "it returns quota figures only.",
        )
