"""Day one and day two on AWS: alarms reach a person, nothing stays billed or exposed,
and the containers run as a platform team expects.

Each test names the AWS page that states the behaviour it checks.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from runtime.catalogue import CATALOGUE
from runtime.contract.storage import (
    RECIPIENTS_PREFIX,
    REPORTS_PREFIX,
    RESULTS_PREFIX,
    UPLOADS_PREFIX,
)
from stacks.alarms import NOBODY_NOTIFIED
from stacks.lambdas import concurrency_note
from stacks.settings import SettingsError
from stacks.topologies import add_topologies, new_app
from task_constructs.core import defaults
from tests.conftest import PROJECT_ROOT, SynthesizedApp, cdk_json_context
from tests.stacks.deploy_facts import Template, resources, task_definitions

README = (PROJECT_ROOT / "README.md").read_text()
ECS_STACKS = ("AsyncTasks-PrivateEndpoints", "AsyncTasks-WorkerService", "AsyncTasks-WebappPoller")


def _synth(topology: str, **context: str) -> dict[str, Template]:
    app = new_app(context={**cdk_json_context(), "topology": topology, **context})
    add_topologies(app)
    return {stack.stack_name: stack.template for stack in app.synth().stacks}


def _refs(values: list[Any]) -> list[str]:
    return [value["Ref"] for value in values if isinstance(value, dict) and "Ref" in value]


def _scaling_alarm(template: Template, alarm: dict[str, Any]) -> bool:
    policies = set(resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy"))
    return bool(set(_refs(alarm["Properties"].get("AlarmActions", []))) & policies)


# 1. Alarms reach a person ---------------------------------------------------------


def test_every_alarm_notifies_the_topic_on_alarm_and_on_ok(synthesized: SynthesizedApp) -> None:
    # "AWS::CloudWatch::Alarm": AlarmActions run on a transition to ALARM, OKActions on
    # one to OK; AWS Control Tower CT.CLOUDWATCH.PR.1 wants an alarm action on each.
    for stack_id, template in synthesized.templates.items():
        (topic,) = resources(template, "AWS::SNS::Topic")
        alarms = resources(template, "AWS::CloudWatch::Alarm")
        notifying = {k: a for k, a in alarms.items() if not _scaling_alarm(template, a)}
        assert notifying, stack_id
        for logical_id, alarm in notifying.items():
            assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}], logical_id
            assert alarm["Properties"]["OKActions"] == [{"Ref": topic}], logical_id


def test_the_wake_up_alarm_only_scales(synthesized: SynthesizedApp) -> None:
    # it fires on every wake-up from zero: machinery, not a failure
    template = synthesized.templates["AsyncTasks-WorkerService"]
    (wake,) = [
        a
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if _scaling_alarm(template, a)
    ]
    assert "OKActions" not in wake["Properties"]


@pytest.mark.parametrize("stack_id", ["AsyncTasks-Lambdas", *ECS_STACKS])
def test_every_dead_letter_queue_alarms_when_not_empty(
    synthesized: SynthesizedApp, stack_id: str
) -> None:
    # "Available CloudWatch metrics for Amazon SQS": ApproximateNumberOfMessagesVisible,
    # reported every minute for an active queue. Any message in a DLQ is lost work.
    template = synthesized.templates[stack_id]
    dead_letter_queues = [
        key
        for key in resources(template, "AWS::SQS::Queue")
        if "DeadLetterQueue" in key or "FailedInvocations" in key
    ]
    assert dead_letter_queues
    watched = {
        dimension["Value"]["Fn::GetAtt"][0]
        for alarm in resources(template, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and alarm["Properties"]["Threshold"] == 0
        for dimension in alarm["Properties"]["Dimensions"]
    }
    assert sorted(watched) == sorted(dead_letter_queues)


def test_worker_service_alarms_when_messages_wait_with_no_task(
    synthesized: SynthesizedApp,
) -> None:
    template = synthesized.templates["AsyncTasks-WorkerService"]
    minutes = int(defaults.WAKE_UP_DEADLINE.to_minutes())
    stalled = [
        alarm["Properties"]
        for alarm in resources(template, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "WakeUpSignal"
        and not _scaling_alarm(template, alarm)
    ]
    assert stalled == [
        {
            **stalled[0],
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "Period": 60,
            "EvaluationPeriods": minutes,
            "DatapointsToAlarm": minutes,
            "TreatMissingData": "notBreaching",
        }
    ]


@pytest.mark.slow  # a synth of its own with options on (~2 s)
def test_alarm_email_and_topic_arn_are_both_notified() -> None:
    # "Creating an Amazon SNS subscription": an email endpoint must confirm it.
    arn = "arn:aws:sns:eu-west-2:123456789012:ops-alarms"
    (template,) = _synth("lambdas", alarmEmail="ops@example.com", alarmTopicArn=arn).values()
    (topic,) = resources(template, "AWS::SNS::Topic")
    (subscription,) = resources(template, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "ops@example.com"
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}, arn]
        assert alarm["Properties"]["OKActions"] == [{"Ref": topic}, arn]


@pytest.mark.slow  # a synth of its own with an option on (~2 s)
def test_a_topic_arn_alone_creates_no_topic() -> None:
    arn = "arn:aws:sns:eu-west-2:123456789012:ops-alarms"
    (template,) = _synth("lambdas", alarmTopicArn=arn).values()
    assert resources(template, "AWS::SNS::Topic") == {}
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [arn]


def _notes(capsys: pytest.CaptureFixture[str], **context: str) -> list[str]:
    app = new_app(context={**cdk_json_context(), "topology": "lambdas", **context})
    add_topologies(app)
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]


@pytest.mark.slow  # builds a stack (~1 s)
def test_synth_says_in_one_line_when_alarms_notify_nobody(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _notes(capsys).count(f"note: {NOBODY_NOTIFIED}") == 1
    assert f"note: {NOBODY_NOTIFIED}" not in _notes(capsys, alarmEmail="ops@example.com")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("alarmEmail", "ops"),
        ("alarmTopicArn", "ops-alarms"),
        ("noncurrentVersionDays", "0"),
        ("noncurrentVersionDays", "thirty"),
    ],
)
def test_bad_alarm_and_lifecycle_values_fail_with_one_line(key: str, value: str) -> None:
    with pytest.raises(SettingsError, match=rf"^context '{key}' is '{value}'; use [^\n]+$"):
        _synth("lambdas", **{key: value})


# 2. Nothing billed or exposed after the fact ------------------------------------------


def _uploads_lifecycle(template: Template) -> list[dict[str, Any]]:
    (bucket,) = [b for key, b in resources(template, "AWS::S3::Bucket").items() if "Uploads" in key]
    rules: list[dict[str, Any]] = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    return rules


def test_uploads_bucket_expires_old_versions_markers_and_stale_multipart_uploads(
    synthesized: SynthesizedApp,
) -> None:
    # "Lifecycle configuration elements" (S3 User Guide): NoncurrentVersionExpiration,
    # ExpiredObjectDeleteMarker and AbortIncompleteMultipartUpload; noncurrent versions
    # and the parts of an incomplete multipart upload are billed as storage until then.
    for template in synthesized.templates.values():
        assert _uploads_lifecycle(template) == [
            {
                "Id": "NoncurrentVersionsAndLeftovers",
                "Status": "Enabled",
                "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                "ExpiredObjectDeleteMarker": True,
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
            }
        ]


@pytest.mark.slow  # a synth of its own with an option on (~1 s)
def test_noncurrent_version_days_is_a_context_key() -> None:
    (template,) = _synth("lambdas", noncurrentVersionDays="7").values()
    (rule,) = _uploads_lifecycle(template)
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7}


def test_readme_says_what_each_prefix_keeps() -> None:
    _, _, section = README.partition("\n### What the uploads bucket keeps\n")
    section = section.split("\n#", 1)[0]
    prefixes = re.findall(r"^\| `([a-z-]+/)` \|", section, flags=re.MULTILINE)
    assert prefixes == [UPLOADS_PREFIX, RESULTS_PREFIX, REPORTS_PREFIX, RECIPIENTS_PREFIX]
    assert f"{defaults.NONCURRENT_VERSION_DAYS} days after it is" in section
    assert f"after {defaults.INCOMPLETE_UPLOAD_DAYS.to_days()} days" in section


def _referenced(value: Any) -> set[str]:
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return {value["Ref"]}
        if set(value) == {"Fn::GetAtt"}:
            return {value["Fn::GetAtt"][0]}
        return set().union(*(_referenced(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_referenced(v) for v in value)) if value else set()
    return set()


def test_every_policy_of_a_retained_resource_is_retained(synthesized: SynthesizedApp) -> None:
    # "DeletionPolicy attribute" (CloudFormation User Guide): Retain keeps the resource
    # and only it. A bucket policy deleted under a retained bucket takes the TLS-only
    # rule and the deny on infected uploads with it.
    for stack_id, template in synthesized.templates.items():
        retained = {
            k for k, r in template["Resources"].items() if r.get("DeletionPolicy") == "Retain"
        }
        assert retained, stack_id
        for logical_id, resource in template["Resources"].items():
            kind = resource["Type"]
            if not kind.endswith("Policy") or kind == "AWS::IAM::Policy":
                continue
            target = _referenced(resource["Properties"].get("Bucket", {})) | _referenced(
                resource["Properties"].get("Queues", resource["Properties"].get("Topics", []))
            )
            if target & retained:
                assert resource.get("DeletionPolicy") == "Retain", (stack_id, logical_id)
                assert resource.get("UpdateReplacePolicy") == "Retain", (stack_id, logical_id)


# 3. The containers ----------------------------------------------------------------------


@pytest.mark.parametrize("stack_id", ECS_STACKS)
def test_containers_run_as_non_root_on_a_read_only_root_with_a_scratch_tmp(
    synthesized: SynthesizedApp, stack_id: str
) -> None:
    # "Amazon ECS task definition parameters for Fargate": user, readonlyRootFilesystem,
    # memory (the hard limit) and bind-mount volumes on the task's ephemeral storage.
    # AWS Control Tower CT.ECS.PR.3, PR.6 and PR.7.
    for task in task_definitions(synthesized.templates[stack_id]).values():
        properties = task["Properties"]
        assert properties["Volumes"] == [{"Name": defaults.SCRATCH_VOLUME}]
        for container in properties["ContainerDefinitions"]:
            assert container["User"] == defaults.CONTAINER_USER != "0"
            assert container["ReadonlyRootFilesystem"] is True
            assert container["Memory"] == int(properties["Memory"])
            assert container["MountPoints"] == [
                {"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "scratch"}
            ]


def test_image_user_is_the_task_definitions_user() -> None:
    dockerfile = (PROJECT_ROOT / "container" / "Dockerfile").read_text()
    assert f"\nUSER {defaults.CONTAINER_USER}\n" in dockerfile
    assert f'\nVOLUME ["{defaults.SCRATCH_PATH}"]\n' in dockerfile


# 4. First deploy ----------------------------------------------------------------------


def test_readme_quotes_the_lambda_caps_synth_prints() -> None:
    capped = sum(task.max_concurrency or 0 for task in CATALOGUE.values())
    uncapped = [task for task in CATALOGUE.values() if task.max_concurrency is None]
    assert f"may run {capped} functions at once" in concurrency_note(CATALOGUE)
    assert f"may run {capped} functions at once plus {len(uncapped)} uncapped" in " ".join(
        README.replace("two", "2").split()
    )


def test_readme_has_a_first_deploy_section() -> None:
    _, found, section = README.partition("\n### First deploy into a new account\n")
    assert found
    for topic in ("cdk bootstrap", "AWSServiceRoleForECS", "get-account-settings", "sandbox"):
        assert topic in section.split("\n## ", 1)[0], topic


# 5. network=endpoints pulls only from this region's ECR ------------------------------


@pytest.mark.parametrize(
    ("image", "where"),
    [
        (
            "111122223333.dkr.ecr.us-east-1.amazonaws.com/team/webapp:1.4.2",
            "ECR in us-east-1, not eu-west-2",
        ),
        ("registry.example.com/team/webapp:1.4.2", "a non-ECR registry"),
        ("public.ecr.aws/team/webapp:1.4.2", "a non-ECR registry"),
    ],
)
def test_endpoints_network_refuses_an_image_it_cannot_pull(image: str, where: str) -> None:
    # "Amazon ECR interface VPC endpoints (AWS PrivateLink)": the ecr.api and ecr.dkr
    # endpoints serve their own region's registry; with no internet route nothing else
    # is reachable, and the task stops with CannotPullContainerError.
    app = new_app(
        context={
            **cdk_json_context(),
            "topology": "worker-service",
            "network": "endpoints",
            "webappImage": image,
        }
    )
    with pytest.raises(SettingsError) as refused:
        add_topologies(app)
    message = str(refused.value)
    assert "\n" not in message
    assert f"'webappImage' is '{image}' ({where}) with 'network' 'endpoints'" in message
    assert message.endswith("copy the image to ECR in eu-west-2, or use -c network=nat")


# 6. Every task works in the default deploy, or is refused at once -------------------


def test_default_deploy_loads_uploads_unscanned_and_refuses_email(
    synthesized: SynthesizedApp,
) -> None:
    # Every consumer learns that uploads are not scanned; every web app that its producer
    # must refuse send-bulk-email (no emailSender): runtime.producer, property-bulk-upload.
    for stack_id in ECS_STACKS:
        template = synthesized.templates[stack_id]
        for logical_id, task in task_definitions(template).items():
            (container,) = task["Properties"]["ContainerDefinitions"]
            env = {e["Name"]: e["Value"] for e in container["Environment"]}
            if logical_id.startswith("WebApp"):
                assert env["ASYNC_TASKS_UNAVAILABLE_TASKS"] == "send-bulk-email", stack_id
            if "ASYNC_TASKS_BUCKET" in env:
                assert env["ASYNC_TASKS_UPLOAD_SCANNING"] == "off", stack_id
    outputs = synthesized.templates["AsyncTasks-Lambdas"]["Outputs"]
    assert outputs["UnavailableTasks"]["Value"] == "send-bulk-email"


@pytest.mark.slow  # a synth of its own with options on (~2 s)
def test_malware_protection_and_a_sender_make_every_task_available() -> None:
    templates = _synth("all", malwareProtection="true", emailSender="tasks@example.com")
    for stack_id, template in templates.items():
        text = json.dumps(template)
        assert "ASYNC_TASKS_UNAVAILABLE_TASKS" not in text, stack_id
        for unscanned in ('"ASYNC_TASKS_UPLOAD_SCANNING", "Value": "off"', '_SCANNING": "off"'):
            assert unscanned not in text, stack_id
        assert "guardduty" in text, stack_id
        assert "UnavailableTasks" not in template.get("Outputs", {}), stack_id
