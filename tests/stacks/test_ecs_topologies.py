"""The three ECS topologies as composed: network, web app, rights, and the switch."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks.settings import SettingsError
from stacks.topologies import add_topologies, new_app
from tests.conftest import SynthesizedApp, cdk_json_context

ECS_STACKS = ("AsyncTasks-PrivateEndpoints", "AsyncTasks-WorkerService", "AsyncTasks-WebappPoller")
STATEFUL_TYPES = ("AWS::SQS::Queue", "AWS::S3::Bucket", "AWS::DynamoDB::Table")


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _synth(topology: str, **context: Any) -> dict[str, dict[str, Any]]:
    app = new_app(context={**cdk_json_context(), "topology": topology, **context})
    add_topologies(app)
    return {s.stack_name: s.template for s in app.synth().stacks}


def _task_role_statements(template: dict[str, Any], service_prefix: str) -> list[dict]:
    """Policy statements of the task role of the service whose id starts with the prefix."""
    (task_def,) = [
        r
        for k, r in _of_type(template, "AWS::ECS::TaskDefinition").items()
        if k.startswith(service_prefix)
    ]
    role_id = task_def["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in _of_type(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statements: list[dict]) -> set[str]:
    return {
        action
        for s in statements
        for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }


@pytest.mark.parametrize("stack_id", ECS_STACKS)
def test_tasks_run_in_private_subnets_without_public_ips(
    synthesized: SynthesizedApp, stack_id: str
) -> None:
    template = synthesized.templates[stack_id]
    services = _of_type(template, "AWS::ECS::Service")
    assert services
    for service in services.values():
        network = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert network["AssignPublicIp"] == "DISABLED"
        for subnet in network["Subnets"]:
            assert "TasksSubnet" in subnet["Ref"]


@pytest.mark.parametrize("stack_id", ECS_STACKS)
def test_network_is_two_azs_with_one_nat_gateway_by_default(
    synthesized: SynthesizedApp, stack_id: str
) -> None:
    template = synthesized.templates[stack_id]
    assert len(_of_type(template, "AWS::EC2::NatGateway")) == 1
    private = [
        k for k in _of_type(template, "AWS::EC2::Subnet") if k.startswith("NetworkVpcTasksSubnet")
    ]
    assert len(private) == 2
    # the free gateway endpoints only: S3 and DynamoDB traffic skips the NAT
    endpoints = _of_type(template, "AWS::EC2::VPCEndpoint").values()
    assert [e["Properties"]["VpcEndpointType"] for e in endpoints] == ["Gateway"] * 2


@pytest.mark.slow  # a synth of its own with an option on (0.5-1 s)
def test_endpoints_network_has_no_nat_and_reaches_aws_through_endpoints() -> None:
    template = _synth("worker-service", network="endpoints")["AsyncTasks-WorkerService"]
    assert not _of_type(template, "AWS::EC2::NatGateway")
    assert not _of_type(template, "AWS::EC2::InternetGateway")
    endpoints = _of_type(template, "AWS::EC2::VPCEndpoint").values()
    kinds = sorted(e["Properties"].get("VpcEndpointType", "Gateway") for e in endpoints)
    # the six every container topology needs, and Lambda for worker-service's nudge
    assert kinds == ["Gateway"] * 2 + ["Interface"] * 7


@pytest.mark.slow  # a synth of its own with an option on (0.5-1 s)
def test_existing_vpc_is_imported_from_context_without_lookups() -> None:
    template = _synth(
        "worker-service",
        vpcId="vpc-0123456789abcdef0",
        availabilityZones="eu-west-2a,eu-west-2b",
        privateSubnetIds=["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
    )["AsyncTasks-WorkerService"]
    assert not _of_type(template, "AWS::EC2::VPC")
    services = _of_type(template, "AWS::ECS::Service").values()
    assert len(services) == 2  # the web app and the workers
    for service in services:
        network = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert network["Subnets"] == ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"network": "vpn"}, "context 'network' is 'vpn'; use one of ['nat', 'endpoints']"),
        ({"vpcId": "vpc-1"}, "context 'vpcId' needs 'availabilityZones' too"),
        ({"malwareProtection": "yes"}, "context 'malwareProtection' is 'yes'; use true or false"),
        ({"emailSender": "tasks"}, "context 'emailSender' is 'tasks'; use an email address"),
    ],
)
def test_bad_context_fails_with_the_key_and_the_fix(context: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _synth("worker-service", **context)


@pytest.mark.slow  # a synth of its own with an option on (0.5-1 s)
def test_web_app_image_comes_from_context() -> None:
    template = _synth("webapp-poller", webappImage="123.dkr.ecr.eu-west-2.amazonaws.com/web:7")
    (task_def,) = _of_type(template["AsyncTasks-WebappPoller"], "AWS::ECS::TaskDefinition").values()
    (container,) = task_def["Properties"]["ContainerDefinitions"]
    assert container["Image"] == "123.dkr.ecr.eu-west-2.amazonaws.com/web:7"


def test_webapp_poller_runs_one_poller_per_web_app_task(synthesized: SynthesizedApp) -> None:
    template = synthesized.templates["AsyncTasks-WebappPoller"]
    (task_def,) = _of_type(template, "AWS::ECS::TaskDefinition").values()
    (container,) = task_def["Properties"]["ContainerDefinitions"]
    assert container["Command"][:3] == ["gunicorn", "--config", "python:runtime.gunicorn_hooks"]
    variables = {e["Name"] for e in container["Environment"]}
    assert {"ASYNC_TASKS_QUEUE_URL", "ASYNC_TASKS_TABLE", "ASYNC_TASKS_POLLER_CONCURRENCY"} <= (
        variables
    )
    actions = _actions(_task_role_statements(template, "WebApp"))
    assert {"sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"} <= actions
    (service,) = _of_type(template, "AWS::ECS::Service").values()
    assert service["Metadata"]["AsyncTasks"] == {"role": "webapp", "pollerThreads": 2}


def test_webapp_poller_keeps_the_web_apps_cpu_scaling(synthesized: SynthesizedApp) -> None:
    template = synthesized.templates["AsyncTasks-WebappPoller"]
    (policy,) = _of_type(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    config = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    assert config["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
    }


def test_worker_service_web_app_may_only_enqueue_and_nudge(synthesized: SynthesizedApp) -> None:
    template = synthesized.templates["AsyncTasks-WorkerService"]
    actions = _actions(_task_role_statements(template, "WebApp"))
    assert actions == {
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "lambda:InvokeFunction",  # the waker alone: tests/stacks/test_wake_on_enqueue.py
    }
    worker_actions = _actions(_task_role_statements(template, "Workers"))
    assert {"sqs:ReceiveMessage", "ecs:UpdateTaskProtection", "dynamodb:PutItem"} <= worker_actions


def test_private_endpoints_web_app_reaches_the_alb_and_holds_no_queue_rights(
    synthesized: SynthesizedApp,
) -> None:
    template = synthesized.templates["AsyncTasks-PrivateEndpoints"]
    web = [
        r
        for k, r in _of_type(template, "AWS::ECS::TaskDefinition").items()
        if k.startswith("WebApp")
    ]
    (container,) = web[0]["Properties"]["ContainerDefinitions"]
    # the route, and (no emailSender by default) the tasks its producer refuses
    assert [e["Name"] for e in container["Environment"]] == [
        "ASYNC_TASKS_ENDPOINT_URL",
        "ASYNC_TASKS_UNAVAILABLE_TASKS",
    ]
    assert not any(
        a.startswith("sqs:") for a in _actions(_task_role_statements(template, "WebApp"))
    )


def test_private_endpoints_schedules_and_events_invoke_the_invoker(
    synthesized: SynthesizedApp,
) -> None:
    template = synthesized.templates["AsyncTasks-PrivateEndpoints"]
    invoker = [
        k
        for k, r in _of_type(template, "AWS::Lambda::Function").items()
        if r.get("Metadata", {}).get("AsyncTasks", {}).get("role") == "invoker"
    ]
    assert len(invoker) == 1
    schedules = _of_type(template, "AWS::Scheduler::Schedule").values()
    assert {s["Properties"]["Target"]["Arn"]["Fn::GetAtt"][0] for s in schedules} == set(invoker)
    rules = _of_type(template, "AWS::Events::Rule").values()
    assert len(rules) == 2  # GuardDuty scan results and SES feedback
    for rule in rules:
        assert rule["Properties"]["Targets"][0]["Arn"]["Fn::GetAtt"][0] == invoker[0]


@pytest.mark.slow  # a synth of its own with an option on (0.5-1 s)
def test_malware_protection_plan_is_opt_in(synthesized: SynthesizedApp) -> None:
    for template in synthesized.templates.values():
        assert not _of_type(template, "AWS::GuardDuty::MalwareProtectionPlan")
    template = _synth("lambdas", malwareProtection=True)["AsyncTasks-Lambdas"]
    (plan,) = _of_type(template, "AWS::GuardDuty::MalwareProtectionPlan").values()
    bucket = plan["Properties"]["ProtectedResource"]["S3Bucket"]["BucketName"]["Ref"]
    assert bucket.startswith("DataUploadsBucket")
    assert plan["Properties"]["Actions"] == {"Tagging": {"Status": "ENABLED"}}


def test_switching_webapp_poller_and_worker_service_keeps_stateful_resources(
    synthesized: SynthesizedApp,
) -> None:
    # GIVEN the two topologies the ADR's pathway moves between
    poller = synthesized.templates["AsyncTasks-WebappPoller"]
    worker = synthesized.templates["AsyncTasks-WorkerService"]
    # THEN the task queue, its DLQ, the buckets and the table have the same logical ids,
    # the same properties and are retained, so a switch keeps them and their contents
    stateful = {
        k: r
        for kind in STATEFUL_TYPES
        for k, r in _of_type(poller, kind).items()
        if not k.startswith("Triggers")
    }
    assert {k for k in stateful if k.startswith("TaskQueue")} == {
        k for k in _of_type(poller, "AWS::SQS::Queue") if k.startswith("TaskQueue")
    }
    assert len(stateful) == 5  # queue, DLQ, uploads and access-log buckets, table
    for logical_id, resource in stateful.items():
        assert json.dumps(worker["Resources"][logical_id], sort_keys=True) == json.dumps(
            resource, sort_keys=True
        ), logical_id
        assert resource["DeletionPolicy"] == "Retain", logical_id


# The logical-id prefix of the one Lambda CDK shares between a stack's AwsCustomResources.
AWS_CUSTOM_RESOURCE_HANDLER = "AWS679f53fac002430cb0da5b7982bd2287"


def test_every_service_and_function_marks_its_role_for_the_cost_model(
    synthesized: SynthesizedApp,
) -> None:
    roles: dict[str, list[str]] = {}
    for stack_id, template in synthesized.templates.items():
        for kind in ("AWS::ECS::Service", "AWS::Lambda::Function"):
            for logical_id, resource in _of_type(template, kind).items():
                if logical_id.startswith(("Custom", AWS_CUSTOM_RESOURCE_HANDLER)):
                    continue  # CDK's own custom-resource providers
                role = resource.get("Metadata", {}).get("AsyncTasks", {}).get("role")
                roles.setdefault(stack_id, []).append(role)
    assert sorted(roles["AsyncTasks-Lambdas"]) == ["task"] * 5
    assert sorted(roles["AsyncTasks-WorkerService"]) == [
        "backlog-metric",
        "waker",
        "webapp",
        "worker",
    ]
    assert sorted(roles["AsyncTasks-WebappPoller"]) == ["webapp"]
    assert sorted(roles["AsyncTasks-PrivateEndpoints"]) == ["endpoint", "invoker", "webapp"]


@pytest.mark.slow  # a synth of its own with an option on (0.5-1 s)
@pytest.mark.parametrize("topology", ["lambdas", "worker-service"])
def test_email_sender_brings_a_configuration_set_publishing_feedback(topology: str) -> None:
    (template,) = _synth(topology, emailSender="tasks@example.com").values()
    (destination,) = _of_type(template, "AWS::SES::ConfigurationSetEventDestination").values()
    config = destination["Properties"]["EventDestination"]
    assert sorted(config["MatchingEventTypes"]) == ["bounce", "complaint"]
    assert "EventBridgeDestination" in config
    set_id = next(iter(_of_type(template, "AWS::SES::ConfigurationSet")))
    rendered = json.dumps(template)
    assert '"ASYNC_TASKS_EMAIL_CONFIGURATION_SET"' in rendered
    assert f'"Ref": "{set_id}"' in rendered
    assert "identity/tasks@example.com" in rendered


def test_no_email_sender_means_no_ses_resources_or_rights(synthesized: SynthesizedApp) -> None:
    for template in synthesized.templates.values():
        assert not _of_type(template, "AWS::SES::ConfigurationSet")
        assert "ses:Send" not in json.dumps(template)
