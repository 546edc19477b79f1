"""The deployability gate: what AWS enforces at deploy, checked on every topology and
on the option combinations a platform team uses.

Snapshots compare templates with themselves; these tests compare them with AWS's
documented rules. Each test names the page that states its rule. Every combination is
synthesized once per session (cdk-nag runs in each synth and fails it on a finding).
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runtime.catalogue import CATALOGUE
from runtime.contract import WAKER_FUNCTION_ENV
from stacks.settings import SettingsError
from stacks.topologies import add_topologies, new_app
from tests.conftest import SynthesizedApp, cdk_json_context
from tests.stacks.deploy_facts import (
    Template,
    as_list,
    execution_roles,
    interface_and_gateway_endpoints,
    lambda_roles,
    resources,
    role_ids,
    role_statements,
    task_definitions,
    task_roles,
)

ECR_IMAGE = "111122223333.dkr.ecr.eu-west-2.amazonaws.com/team/webapp:1.4.2"
OPTIONS: dict[str, dict[str, Any]] = {
    "webappImage": {"webappImage": ECR_IMAGE},
    "malwareProtection": {"malwareProtection": "true"},
    "emailSender": {"emailSender": "tasks@example.com"},
    "network=endpoints": {"network": "endpoints"},
    "arm64": {"fargateArchitecture": "arm64"},
}
# SES's sending API has no VPC endpoint: that pair is refused at synth (tested below).
REFUSED = frozenset({"emailSender", "network=endpoints"})
COMBINATIONS: list[tuple[str, ...]] = [
    (),
    *[(name,) for name in OPTIONS],
    *[pair for pair in itertools.combinations(OPTIONS, 2) if frozenset(pair) != REFUSED],
]
ECS_STACKS = ("AsyncTasks-PrivateEndpoints", "AsyncTasks-WorkerService", "AsyncTasks-WebappPoller")
STACKS = (*ECS_STACKS, "AsyncTasks-Lambdas")
EVENT_ONLY = sorted(name for name, task in CATALOGUE.items() if not task.on_demand)


@dataclass(frozen=True)
class Synthesized:
    options: tuple[str, ...]
    outdir: Path
    templates: dict[str, Template]
    assets: dict[str, dict[str, Any]]

    def has(self, option: str) -> bool:
        return option in self.options


_OUT = Path(__file__).resolve().parents[2] / ".pytest-deployability"


_SYNTHESIZED: dict[tuple[str, ...], Synthesized] = {}


def _collected(
    options: tuple[str, ...], outdir: Path, templates: dict[str, Template]
) -> Synthesized:
    report = outdir / "validation-report.json"
    assert not report.exists() or json.loads(report.read_text())["pluginReports"] == []
    return Synthesized(
        options=options,
        outdir=outdir,
        templates=templates,
        assets={
            stack_id: json.loads((outdir / f"{stack_id}.assets.json").read_text())
            for stack_id in STACKS
        },
    )


def synth(options: tuple[str, ...]) -> Synthesized:
    """Every topology with ``options`` switched on, synthesized once per session."""
    if options not in _SYNTHESIZED:
        context: dict[str, Any] = {"topology": "all"}
        for option in options:
            context.update(OPTIONS[option])
        outdir = _OUT / ("-".join(options) or "defaults").replace("=", "_")
        app = new_app(context={**cdk_json_context(), **context}, outdir=str(outdir))
        add_topologies(app)
        assembly = app.synth()
        templates = {stack.stack_name: stack.template for stack in assembly.stacks}
        _SYNTHESIZED[options] = _collected(options, outdir, templates)
    return _SYNTHESIZED[options]


@pytest.fixture(scope="module", autouse=True)
def _defaults_are_the_sessions_synth(synthesized: SynthesizedApp) -> None:
    """No option is the context tests/conftest.py already synthesized for the session."""
    if () not in _SYNTHESIZED:
        _SYNTHESIZED[()] = _collected((), synthesized.outdir, synthesized.templates)


def _id(options: tuple[str, ...]) -> str:
    return "+".join(options) or "defaults"


# The defaults share the session's synth and stay in the inner tier; every other
# combination costs a synth of its own (~2 s, cdk-nag included) that only this module
# uses, so it runs with the slow tests.
@pytest.fixture(
    params=[
        pytest.param(options, marks=() if options == () else pytest.mark.slow)
        for options in COMBINATIONS
    ],
    ids=_id,
    scope="module",
)
def combination(request: pytest.FixtureRequest) -> Synthesized:
    return synth(request.param)


def _allows(template: Template, role: str, action: str) -> list[Any]:
    """The resources on which ``role`` is allowed ``action``."""
    return [
        resource
        for statement in role_statements(template, role)
        if statement.allows(action)
        for resource in statement.resources
    ]


# 1. Container images ------------------------------------------------------------


def test_every_execution_role_can_pull_its_image(combination: Synthesized) -> None:
    # "Amazon ECS task execution IAM role": pulling from ECR needs
    # ecr:GetAuthorizationToken (no resource-level permissions) and, on the repository,
    # ecr:BatchCheckLayerAvailability, ecr:GetDownloadUrlForLayer and ecr:BatchGetImage.
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html
    for stack_id in ECS_STACKS:
        template = combination.templates[stack_id]
        roles = execution_roles(template)
        assert roles, stack_id
        for role in roles:
            assert "*" in _allows(template, role, "ecr:GetAuthorizationToken"), (stack_id, role)
            for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"):
                granted = json.dumps(_allows(template, role, action))
                if combination.has("webappImage"):
                    # the repository named by the URI, in the account the URI names
                    assert "111122223333" in granted and "repository/team/webapp" in granted
                else:
                    assert "cdk-hnb659fds-container-assets" in granted, (stack_id, granted)


@pytest.mark.slow  # a synth with an option on (~2 s) that only this module uses
def test_ecr_image_uri_is_the_image_the_containers_run() -> None:
    template = synth(("webappImage",)).templates["AsyncTasks-WorkerService"]
    images = {
        json.dumps(container["Image"])
        for task in task_definitions(template).values()
        for container in task["Properties"]["ContainerDefinitions"]
    }
    assert len(images) == 1
    (image,) = images
    assert "111122223333.dkr.ecr.eu-west-2." in image and "/team/webapp:1.4.2" in image


@pytest.mark.slow  # a synth of its own with an option on (~1 s)
def test_private_registry_image_uses_a_repository_credentials_secret() -> None:
    # "Private registry authentication for tasks": the container names the secret in
    # repositoryCredentials and the execution role may read it.
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/private-auth.html
    secret = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:registry-AbCdEf"
    app = new_app(
        context={
            **cdk_json_context(),
            "topology": "worker-service",
            "webappImage": "registry.example.com/team/webapp:1.4.2",
            "webappImageCredentials": secret,
        }
    )
    add_topologies(app)
    (template,) = [stack.template for stack in app.synth().stacks]
    for task in task_definitions(template).values():
        (container,) = task["Properties"]["ContainerDefinitions"]
        assert container["RepositoryCredentials"] == {"CredentialsParameter": secret}
    for role in execution_roles(template):
        assert secret in json.dumps(_allows(template, role, "secretsmanager:GetSecretValue"))


def test_one_setting_decides_task_and_image_architecture(combination: Synthesized) -> None:
    # "Amazon ECS task definitions for 64-bit ARM workloads": runtimePlatform's
    # cpuArchitecture must match the image, or the task stops with "exec format error".
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-arm64.html
    want = "ARM64" if combination.has("arm64") else "X86_64"
    for stack_id in ECS_STACKS:
        template = combination.templates[stack_id]
        for task in task_definitions(template).values():
            assert task["Properties"]["RuntimePlatform"]["CpuArchitecture"] == want
        images = combination.assets[stack_id].get("dockerImages", {})
        if combination.has("webappImage"):
            assert images == {}
        else:
            platforms = {image["source"].get("platform") for image in images.values()}
            assert platforms == {"linux/arm64" if want == "ARM64" else "linux/amd64"}


# 2. GuardDuty Malware Protection for S3 ------------------------------------------

# "Create or update IAM role policy" (GuardDuty user guide): the statements the plan's
# role must carry, by Sid, and the resource each applies to.
# https://docs.aws.amazon.com/guardduty/latest/ug/malware-protection-s3-iam-policy-prerequisite.html
GUARDDUTY_ROLE_POLICY = {
    "AllowManagedRuleToSendS3EventsToGuardDuty": (
        {"events:PutRule", "events:DeleteRule", "events:PutTargets", "events:RemoveTargets"},
        "rule/DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3*",
    ),
    "AllowGuardDutyToMonitorEventBridgeManagedRule": (
        {"events:DescribeRule", "events:ListTargetsByRule"},
        "rule/DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3*",
    ),
    "AllowPostScanTag": (
        {
            "s3:PutObjectTagging",
            "s3:GetObjectTagging",
            "s3:PutObjectVersionTagging",
            "s3:GetObjectVersionTagging",
        },
        "/uploads/*",
    ),
    "AllowEnableS3EventBridgeEvents": (
        {"s3:PutBucketNotification", "s3:GetBucketNotification"},
        "Arn",
    ),
    "AllowPutValidationObject": (
        {"s3:PutObject"},
        "/malware-protection-resource-validation-object",
    ),
    "AllowCheckBucketOwnership": ({"s3:ListBucket"}, "Arn"),
    "AllowMalwareScan": ({"s3:GetObject", "s3:GetObjectVersion"}, "/uploads/*"),
}


def _plan(template: Template) -> tuple[str, dict[str, Any]]:
    (plan,) = resources(template, "AWS::GuardDuty::MalwareProtectionPlan").items()
    return plan


@pytest.mark.slow  # a synth with an option on (~2 s) that only this module uses
@pytest.mark.parametrize("stack_id", STACKS)
def test_malware_plan_role_carries_the_documented_policy(stack_id: str) -> None:
    template = synth(("malwareProtection",)).templates[stack_id]
    plan_id, plan = _plan(template)
    role = plan["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = role_statements(template, role)
    for sid, (actions, resource_part) in GUARDDUTY_ROLE_POLICY.items():
        matching = [
            s for s in statements if actions <= set(s.actions) and resource_part in s.text()
        ]
        assert matching, f"{sid}: {sorted(actions)} on *{resource_part}*"
    # GuardDuty validates the role when the plan is created: its policy must exist first.
    policies = [
        key
        for key, policy in resources(template, "AWS::IAM::Policy").items()
        if {"Ref": role} in policy["Properties"]["Roles"]
    ]
    assert set(policies) <= set(as_list(plan.get("DependsOn", []))), plan_id


@pytest.mark.slow  # a synth with an option on (~2 s) that only this module uses
@pytest.mark.parametrize("stack_id", STACKS)
def test_malware_plan_scans_only_uploads(stack_id: str) -> None:
    # AWS::GuardDuty::MalwareProtectionPlan S3Bucket ObjectPrefixes: only those keys.
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-guardduty-malwareprotectionplan-s3bucket.html
    _, plan = _plan(synth(("malwareProtection",)).templates[stack_id])
    assert plan["Properties"]["ProtectedResource"]["S3Bucket"]["ObjectPrefixes"] == ["uploads/"]
    assert plan["Properties"]["Actions"]["Tagging"]["Status"] == "ENABLED"


def _uploads_bucket(template: Template) -> str:
    (bucket,) = [key for key in resources(template, "AWS::S3::Bucket") if "Uploads" in key]
    return bucket


def _rule_patterns(template: Template, detail_type_word: str) -> list[dict[str, Any]]:
    return [
        rule["Properties"]["EventPattern"]
        for rule in resources(template, "AWS::Events::Rule").values()
        if detail_type_word in json.dumps(rule["Properties"].get("EventPattern", {}))
    ]


def test_scan_rule_matches_only_our_uploads_bucket(combination: Synthesized) -> None:
    # "Monitoring S3 object scans with Amazon EventBridge": scan results of every
    # protected bucket in the account arrive on the default bus; the rule must name ours
    # in detail.s3ObjectDetails.bucketName.
    # https://docs.aws.amazon.com/guardduty/latest/ug/monitor-with-eventbridge-s3-malware-protection.html
    for stack_id in STACKS:
        template = combination.templates[stack_id]
        (pattern,) = _rule_patterns(template, "Malware Protection Object Scan Result")
        assert pattern["source"] == ["aws.guardduty"]
        bucket_names = pattern["detail"]["s3ObjectDetails"]["bucketName"]
        assert bucket_names == [{"Ref": _uploads_bucket(template)}]


def _bucket_policy(template: Template) -> list[dict[str, Any]]:
    bucket = _uploads_bucket(template)
    for policy in resources(template, "AWS::S3::BucketPolicy").values():
        if policy["Properties"]["Bucket"] == {"Ref": bucket}:
            return list(policy["Properties"]["PolicyDocument"]["Statement"])
    return []


@pytest.mark.slow  # a synth with an option on (~2 s) that only this module uses
@pytest.mark.parametrize("stack_id", STACKS)
def test_uploads_without_a_clean_verdict_cannot_be_read(stack_id: str) -> None:
    # GuardDuty "Using tag-based access control (TBAC) with Malware Protection for S3":
    # deny s3:GetObject unless GuardDutyMalwareScanStatus is NO_THREATS_FOUND. An
    # untagged (not yet scanned) object has no such key: StringNotEquals then matches
    # ("IAM JSON policy elements: Condition operators", negated operators), so it is
    # denied too. GuardDuty's own role is exempt, since it must read to scan.
    # https://docs.aws.amazon.com/guardduty/latest/ug/tag-based-access-s3-malware-protection.html
    template = synth(("malwareProtection",)).templates[stack_id]
    _, plan = _plan(template)
    guardduty_role = plan["Properties"]["Role"]
    (deny,) = [
        s
        for s in _bucket_policy(template)
        if s["Effect"] == "Deny" and "s3:GetObject" in as_list(s["Action"])
    ]
    assert deny["Principal"] == {"AWS": "*"}
    assert deny["Condition"]["StringNotEquals"] == {
        "s3:ExistingObjectTag/GuardDutyMalwareScanStatus": "NO_THREATS_FOUND"
    }
    assert deny["Condition"]["ArnNotEquals"] == {"aws:PrincipalArn": guardduty_role}
    assert "/uploads/*" in json.dumps(deny["Resource"])


@pytest.mark.slow  # a synth with an option on (~2 s) that only this module uses
@pytest.mark.parametrize("stack_id", STACKS)
def test_only_guardduty_may_tag_objects(stack_id: str) -> None:
    # A forged GuardDutyMalwareScanStatus tag would pass the deny above; S3 needs
    # s3:PutObjectTagging both for PutObjectTagging and for a PutObject that carries
    # tags ("PutObject", x-amz-tagging).
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
    template = synth(("malwareProtection",)).templates[stack_id]
    _, plan = _plan(template)
    (deny,) = [
        s
        for s in _bucket_policy(template)
        if s["Effect"] == "Deny" and "s3:PutObjectTagging" in as_list(s["Action"])
    ]
    assert {"s3:PutObjectVersionTagging", "s3:DeleteObjectTagging"} <= set(deny["Action"])
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": plan["Properties"]["Role"]}}


def test_no_task_role_may_tag_objects_or_delete_versions(combination: Synthesized) -> None:
    for stack_id, template in combination.templates.items():
        for role in [*task_roles(template), *lambda_roles(template)]:
            for action in ("s3:PutObjectTagging", "s3:DeleteObjectVersion", "s3:*"):
                assert not _allows(template, role, action), (stack_id, role, action)


# 3. Forged events -----------------------------------------------------------------


def test_lambdas_web_app_may_send_only_to_on_demand_queues(combination: Synthesized) -> None:
    template = combination.templates["AsyncTasks-Lambdas"]
    (producer,) = [key for key in role_ids(template) if key.startswith("WebAppProducerRole")]
    queues_sent_to = {
        json.dumps(resource) for resource in _allows(template, producer, "sqs:SendMessage")
    }
    on_demand = [name for name, task in CATALOGUE.items() if task.on_demand]
    assert len(queues_sent_to) == len(on_demand)
    for name in EVENT_ONLY:
        pascal = "".join(part.capitalize() for part in name.split("-"))
        assert not any(pascal in queue for queue in queues_sent_to), name


# 4. SES feedback ---------------------------------------------------------------------


@pytest.mark.slow  # a synth with an option on (~2 s) that only this module uses
def test_email_feedback_rule_matches_ses_documented_detail_types() -> None:
    # "Monitoring email sending using Amazon EventBridge" (SES developer guide): the
    # detail-types are "Email Bounced" and "Email Complaint Received".
    # https://docs.aws.amazon.com/ses/latest/dg/monitoring-eventbridge.html
    for stack_id in STACKS:
        template = synth(("emailSender",)).templates[stack_id]
        (pattern,) = _rule_patterns(template, "aws.ses")
        assert sorted(pattern["detail-type"]) == ["Email Bounced", "Email Complaint Received"]
        # and only our configuration set's mail
        tags = pattern["detail"]["mail"]["tags"]["ses:configuration-set"]
        assert len(tags) == 1 and "Ref" in tags[0]


# 5. network=endpoints ------------------------------------------------------------------

# boto3 client name -> the VPC endpoint service it reaches ("AWS services that
# integrate with AWS PrivateLink").
ENDPOINT_FOR_CLIENT = {
    "sqs": "sqs",
    "s3": "s3",
    "dynamodb": "dynamodb",
    "cloudwatch": "monitoring",
    "ecs": "ecs",
    "logs": "logs",
    "lambda": "lambda",
}
CONTAINER_NEEDS = {
    # awslogs driver ("Amazon ECS interface VPC endpoints", "Using awslogs")
    "logs",
    # image pull from ECR: api, dkr and the S3 gateway for layers ("Amazon ECR
    # interface VPC endpoints (AWS PrivateLink)")
    "ecr.api",
    "ecr.dkr",
    "s3",
    # task scale-in protection goes through the ECS agent to the ECS API
    "ecs",
}


def _clients_called_by_containers() -> set[str]:
    """The boto3 clients of the runtime modules that containers run (every module but
    the Lambda-only backlog metric and invoker)."""
    root = Path(__file__).resolve().parents[2] / "runtime"
    lambda_only = {"backlog_metric.py", "invoker.py", "lambda_batch.py", "waker.py"}
    names: set[str] = set()
    pattern = re.compile(r"""\b(?:client|resource)\(\s*["']([a-z0-9-]+)["']""")
    for path in root.rglob("*.py"):
        if path.name not in lambda_only:
            names.update(pattern.findall(path.read_text()))
    return names


def test_derived_clients_include_what_the_runtime_is_known_to_call() -> None:
    # the collector must find the clients, or the test below proves nothing
    assert {"sqs", "s3", "dynamodb", "ses"} <= _clients_called_by_containers()


@pytest.mark.slow  # a synth with an option on (~2 s) that only this module uses
@pytest.mark.parametrize("stack_id", ECS_STACKS)
def test_endpoints_network_reaches_every_api_the_containers_call(stack_id: str) -> None:
    template = synth(("network=endpoints",)).templates[stack_id]
    assert not resources(template, "AWS::EC2::NatGateway")
    endpoints = interface_and_gateway_endpoints(template)
    # the producer calls Lambda only where the stack names a waker (worker-service)
    nudges = WAKER_FUNCTION_ENV in json.dumps(resources(template, "AWS::ECS::TaskDefinition"))
    needed = CONTAINER_NEEDS | {
        ENDPOINT_FOR_CLIENT[name]
        for name in _clients_called_by_containers()
        if name != "ses"  # refused with network=endpoints; see the test below
        and (name != "lambda" or nudges)
    }
    assert needed <= endpoints, sorted(needed - endpoints)
    assert nudges == (stack_id == "AsyncTasks-WorkerService")


def test_email_sender_with_endpoints_network_is_refused_with_one_line() -> None:
    # SES offers a VPC endpoint for SMTP only; the runtime calls the SES API.
    app = new_app(
        context={
            **cdk_json_context(),
            "topology": "worker-service",
            **OPTIONS["emailSender"],
            **OPTIONS["network=endpoints"],
        }
    )
    with pytest.raises(SettingsError) as refused:
        add_topologies(app)
    message = str(refused.value)
    assert "\n" not in message
    assert "'emailSender'" in message and "'network'" in message and "network=nat" in message


# 6. Scale-in protection in webapp-poller ----------------------------------------------


@pytest.mark.parametrize("stack_id", ["AsyncTasks-WebappPoller", "AsyncTasks-WorkerService"])
def test_consumers_may_hold_task_scale_in_protection(
    combination: Synthesized, stack_id: str
) -> None:
    # "Protect your Amazon ECS tasks from being terminated by scale-in events": the task
    # role needs ecs:UpdateTaskProtection for the agent's task-protection endpoint.
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection.html
    template = combination.templates[stack_id]
    consumers = [
        role
        for key, task in task_definitions(template).items()
        if key.startswith(("WebApp", "Workers"))
        for role in [task["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]]
        if _allows(template, role, "sqs:ReceiveMessage")
    ]
    assert consumers
    for role in consumers:
        granted = json.dumps(_allows(template, role, "ecs:UpdateTaskProtection"))
        assert ":task/" in granted and "Cluster" in granted, granted


# 7. Counts that survive deploys -----------------------------------------------------


def _services(template: Template) -> dict[str, dict[str, Any]]:
    return resources(template, "AWS::ECS::Service")


def test_auto_scaled_always_on_services_omit_desired_count(combination: Synthesized) -> None:
    # "AWS::ECS::Service" DesiredCount: on updates, a given value replaces what auto
    # scaling set; omitted, the current count is kept.
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ecs-service.html
    for stack_id in ECS_STACKS:
        for key, service in _services(combination.templates[stack_id]).items():
            if key.startswith(("WebApp", "Endpoints")):
                assert "DesiredCount" not in service["Properties"], (stack_id, key)


def test_worker_service_starts_with_no_task() -> None:
    template = synth(()).templates["AsyncTasks-WorkerService"]
    (workers,) = [s for k, s in _services(template).items() if k.startswith("Workers")]
    assert workers["Properties"]["DesiredCount"] == 0


def test_scaling_uses_the_service_linked_role_and_no_dead_role(combination: Synthesized) -> None:
    # "Service-linked roles for Application Auto Scaling": ECS scaling uses
    # AWSServiceRoleForApplicationAutoScaling_ECSService.
    # https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-service-linked-roles.html
    for stack_id in ECS_STACKS:
        template = combination.templates[stack_id]
        for target in resources(template, "AWS::ApplicationAutoScaling::ScalableTarget").values():
            assert "AWSServiceRoleForApplicationAutoScaling_ECSService" in json.dumps(
                target["Properties"]["RoleARN"]
            )
        for key, role in resources(template, "AWS::IAM::Role").items():
            principal = json.dumps(role["Properties"]["AssumeRolePolicyDocument"])
            assert "application-autoscaling" not in principal, (stack_id, key)


# 8. Least privilege and network edges ------------------------------------------------


def test_scheduler_roles_are_bound_to_this_account_and_group(combination: Synthesized) -> None:
    # "Set up the execution role" (EventBridge Scheduler): aws:SourceAccount and
    # aws:SourceArn in the trust policy prevent the confused deputy.
    # https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role
    for stack_id, template in combination.templates.items():
        for key, role in resources(template, "AWS::IAM::Role").items():
            for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
                if statement["Principal"].get("Service") == "scheduler.amazonaws.com":
                    condition = statement.get("Condition", {}).get("StringEquals", {})
                    assert {"aws:SourceAccount", "aws:SourceArn"} <= set(condition), (
                        stack_id,
                        key,
                    )
                    assert ":schedule-group/" in json.dumps(condition["aws:SourceArn"])


def test_alb_egress_is_only_its_targets_port() -> None:
    # AWS::EC2::SecurityGroup SecurityGroupEgress: "if you do not specify an egress
    # rule, we add egress rules that allow all outbound traffic".
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-securitygroup.html
    template = synth(()).templates["AsyncTasks-PrivateEndpoints"]
    (group_id,) = [k for k in resources(template, "AWS::EC2::SecurityGroup") if "LoadBalancer" in k]
    inline = template["Resources"][group_id]["Properties"]["SecurityGroupEgress"]
    assert inline == [
        {
            "CidrIp": "255.255.255.255/32",
            "Description": "Disallow all traffic",
            "IpProtocol": "icmp",
            "FromPort": 252,
            "ToPort": 86,
        }
    ]
    egress = [
        rule["Properties"]
        for rule in resources(template, "AWS::EC2::SecurityGroupEgress").values()
        if rule["Properties"]["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}
    ]
    assert [(rule["FromPort"], rule["ToPort"]) for rule in egress] == [(8000, 8000)]


def test_task_roles_get_only_the_data_actions_their_tasks_use(
    combination: Synthesized,
) -> None:
    for stack_id, template in combination.templates.items():
        for role in [*task_roles(template), *lambda_roles(template)]:
            statements = role_statements(template, role)
            for statement in statements:
                if statement.allows("dynamodb:DeleteItem"):
                    assert "idempotency#*" in json.dumps(statement.conditions), (stack_id, role)
                assert "dynamodb:*" not in statement.actions
    lambdas = combination.templates["AsyncTasks-Lambdas"]
    for key, function in resources(lambdas, "AWS::Lambda::Function").items():
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        task = function.get("Metadata", {}).get("AsyncTasks", {}).get("task")
        if task is None:
            continue
        may_scan = bool(_allows(lambdas, role, "dynamodb:Scan"))
        assert may_scan == (task == "generate-report"), key


# 9. Context values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("context", "key"),
    [
        ({"region": "EU_WEST"}, "region"),
        ({"account": "abc"}, "account"),
        ({"account": "12345678901"}, "account"),
        ({"webappImage": ""}, "webappImage"),
        ({"webappImage": "   "}, "webappImage"),
        ({"webappImage": "web app:1"}, "webappImage"),
        ({"fargateArchitecture": "amd64"}, "fargateArchitecture"),
        ({"webappImageCredentials": "x"}, "webappImageCredentials"),
        ({"network": "vpn"}, "network"),
        ({"availabilityZones": ""}, "availabilityZones"),
    ],
)
def test_each_bad_context_value_fails_with_one_line(context: dict[str, str], key: str) -> None:
    app = new_app(context={**cdk_json_context(), "topology": "all", **context})
    with pytest.raises(SettingsError) as refused:
        add_topologies(app)
    message = str(refused.value)
    assert "\n" not in message and f"'{key}'" in message
    value = next(iter(context.values()))
    assert f"'{value}'" in message or "without" in message


@pytest.mark.slow  # a synth of its own with an option on (~1 s)
def test_account_with_ecs_topology_says_how_to_synthesize_offline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = new_app(
        context={**cdk_json_context(), "topology": "worker-service", "account": "123456789012"}
    )
    add_topologies(app)
    note = capsys.readouterr().err
    assert "-c availabilityZones=eu-west-2a,eu-west-2b" in note
    # and with the zones given, no look-up is needed
    app = new_app(
        context={
            **cdk_json_context(),
            "topology": "worker-service",
            "account": "123456789012",
            "availabilityZones": "eu-west-2a,eu-west-2b",
        }
    )
    (stack,) = add_topologies(app)
    assert "availabilityZones" not in capsys.readouterr().err
    subnets = resources(
        app.synth().get_stack_by_name(stack.stack_name).template, "AWS::EC2::Subnet"
    )
    zones = {subnet["Properties"]["AvailabilityZone"] for subnet in subnets.values()}
    assert zones == {"eu-west-2a", "eu-west-2b"}


# 11. Validators --------------------------------------------------------------------------


@pytest.mark.slow
def test_cfn_lint_finds_no_error_in_any_combination() -> None:
    # cfn-lint checks each template against the CloudFormation resource specification;
    # one process for every combination's templates (start-up dominates per file).
    paths = [
        str(path)
        for options in COMBINATIONS
        for path in sorted(synth(options).outdir.glob("*.template.json"))
    ]
    assert len(paths) == len(COMBINATIONS) * len(STACKS)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--non-zero-exit-code", "error", *paths],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
