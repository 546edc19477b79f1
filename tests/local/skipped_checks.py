"""Template checks for each resource type moto's CloudFormation skips.

The emulator cannot prove these resources work, so each skipped resource is checked on
the synthesized template for the property that makes it matter. A skipped type without
a check here fails test_skipped_resources: nothing moto skips goes untested.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from runtime.catalogue import CATALOGUE
from runtime.contract import NUDGED_BY_KEY, WAKER_HANDLER

Template = Mapping[str, Mapping[str, Any]]
Check = Callable[[Template, str], None]

_TLS_ONLY = {"Bool": {"aws:SecureTransport": "false"}}


def _target(value: Any) -> str:
    """The logical id a Ref or Fn::GetAtt points at."""
    if "Ref" in value:
        return str(value["Ref"])
    return str(value["Fn::GetAtt"][0])


def _denies_plain_http(statements: list[Mapping[str, Any]]) -> bool:
    return any(
        s["Effect"] == "Deny" and s.get("Condition") == _TLS_ONLY and s["Principal"] == {"AWS": "*"}
        for s in statements
    )


def queue_policy(template: Template, logical_id: str) -> None:
    properties = template[logical_id]["Properties"]
    assert _denies_plain_http(properties["PolicyDocument"]["Statement"]), logical_id
    for queue in properties["Queues"]:
        assert template[_target(queue)]["Type"] == "AWS::SQS::Queue"


def bucket_policy(template: Template, logical_id: str) -> None:
    properties = template[logical_id]["Properties"]
    assert _denies_plain_http(properties["PolicyDocument"]["Statement"]), logical_id
    assert template[_target(properties["Bucket"])]["Type"] == "AWS::S3::Bucket"


def topic_policy(template: Template, logical_id: str) -> None:
    """The alarm topic refuses publishes over plain HTTP (SNS enforce_ssl)."""
    properties = template[logical_id]["Properties"]
    assert any(
        s["Effect"] == "Deny" and s.get("Condition") == _TLS_ONLY and s["Principal"] == "*"
        for s in properties["PolicyDocument"]["Statement"]
    ), logical_id
    for topic in properties["Topics"]:
        assert template[_target(topic)]["Type"] == "AWS::SNS::Topic"


def _notifies_a_topic(template: Template, properties: Mapping[str, Any]) -> bool:
    """ALARM and OK both go to the stack's alarm topic (AlarmNotifications)."""
    actions = properties.get("AlarmActions", [])
    return (
        bool(actions)
        and properties.get("OKActions") == actions
        and all(template[_target(a)]["Type"] == "AWS::SNS::Topic" for a in actions)
    )


def alarm(template: Template, logical_id: str) -> None:
    properties = template[logical_id]["Properties"]
    dimensions = {d["Name"]: d["Value"] for d in properties["Dimensions"]}
    if properties["Namespace"] == "AWS/SQS":
        queue = template[_target(dimensions["QueueName"])]
        assert queue["Type"] == "AWS::SQS::Queue"
        is_dlq = _target(dimensions["QueueName"]) in _dead_letter_queues(template)
        expected = (
            ("ApproximateNumberOfMessagesVisible", 0)
            if is_dlq
            else ("ApproximateAgeOfOldestMessage", 1800)
        )
        assert (properties["MetricName"], properties["Threshold"]) == expected, logical_id
        assert _notifies_a_topic(template, properties), logical_id
    else:
        # The worker service's wake-from-zero signal, published by the backlog Lambda:
        # the wake-up step scaling, or the alarm when it stays up (the wake-up failed).
        assert (properties["Namespace"], properties["MetricName"]) == ("AsyncTasks", "WakeUpSignal")
        assert set(dimensions) == {"ClusterName", "ServiceName"}
        actions = [template[_target(a)]["Type"] for a in properties["AlarmActions"]]
        if actions != ["AWS::ApplicationAutoScaling::ScalingPolicy"]:
            assert _notifies_a_topic(template, properties), logical_id
            assert properties["EvaluationPeriods"] > 1, logical_id
    assert properties["ComparisonOperator"] == "GreaterThanThreshold"


def _dead_letter_queues(template: Template) -> set[str]:
    """Queues' redrive targets, and where Scheduler, EventBridge and the invoker's async
    invocations put what they could not deliver."""
    found = {
        _target(r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        for r in template.values()
        if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r.get("Properties", {})
    }
    for resource in template.values():
        properties = resource.get("Properties", {})
        targets = [properties.get("Target", {}), *properties.get("Targets", [])]
        for target in targets:
            if "DeadLetterConfig" in target:
                found.add(_target(target["DeadLetterConfig"]["Arn"]))
        if (
            resource["Type"] == "AWS::Lambda::EventInvokeConfig"
            and "DestinationConfig" in properties
        ):
            found.add(_target(properties["DestinationConfig"]["OnFailure"]["Destination"]))
    return found


def _wake_twin(template: Template, logical_id: str) -> None:
    """worker-service's twin of a task schedule: the same times, a nudge to the waker,
    no retry and no DLQ (the wake-up alarm covers a lost one)."""
    properties = template[logical_id]["Properties"]
    task = json.loads(properties["Target"]["Input"])[NUDGED_BY_KEY]
    assert task in CATALOGUE
    waker = template[_target(properties["Target"]["Arn"])]
    assert waker["Properties"]["Handler"] == WAKER_HANDLER
    assert properties["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 0
    assert "DeadLetterConfig" not in properties["Target"]
    twins = [
        r["Properties"]
        for r in template.values()
        if r["Type"] == "AWS::Scheduler::Schedule"
        and json.loads(r["Properties"]["Target"]["Input"]).get("task") == task
    ]
    assert [t["ScheduleExpression"] for t in twins] == [properties["ScheduleExpression"]]


def schedule(template: Template, logical_id: str) -> None:
    """The target is what consumes the scheduled task, and the input is its envelope."""
    properties = template[logical_id]["Properties"]
    envelope = json.loads(properties["Target"]["Input"])
    if NUDGED_BY_KEY in envelope:
        _wake_twin(template, logical_id)
        return
    task = envelope["task"]
    assert task in CATALOGUE
    assert envelope["id"] == "<aws.scheduler.execution-id>"
    assert properties["ScheduleExpressionTimezone"] == "Europe/London"
    target_id = _target(properties["Target"]["Arn"])
    target = template[target_id]
    if target["Type"] == "AWS::Lambda::Function":
        assert target["Properties"]["Handler"] == "runtime.invoker.handler"
    else:
        assert target["Type"] == "AWS::SQS::Queue"
        consumers = _task_names_consuming(template, target_id)
        # A per-task queue (lambdas) must feed that task's function; a shared queue none.
        assert consumers in ([task], []), (logical_id, consumers)
    dlq = template[_target(properties["Target"]["DeadLetterConfig"]["Arn"])]
    assert dlq["Type"] == "AWS::SQS::Queue"


def _task_names_consuming(template: Template, queue_id: str) -> list[str]:
    names = []
    for resource in template.values():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        if _target(resource["Properties"]["EventSourceArn"]) != queue_id:
            continue
        function = template[_target(resource["Properties"]["FunctionName"])]
        names.append(function["Properties"]["Environment"]["Variables"]["TASK_NAME"])
    return names


def scalable_target(template: Template, logical_id: str) -> None:
    properties = template[logical_id]["Properties"]
    assert properties["ServiceNamespace"] == "ecs"
    assert properties["ScalableDimension"] == "ecs:service:DesiredCount"
    assert 0 <= properties["MinCapacity"] < properties["MaxCapacity"]
    parts = properties["ResourceId"]["Fn::Join"][1]
    service = next(p for p in parts if isinstance(p, dict) and "Fn::GetAtt" in p)
    assert template[_target(service)]["Type"] == "AWS::ECS::Service"


def scaling_policy(template: Template, logical_id: str) -> None:
    properties = template[logical_id]["Properties"]
    target = template[_target(properties["ScalingTargetId"])]
    assert target["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
    assert properties["PolicyType"] in ("TargetTrackingScaling", "StepScaling")


def security_group_egress(template: Template, logical_id: str) -> None:
    """The load balancer may reach the endpoint service's port, and nothing else."""
    properties = template[logical_id]["Properties"]
    assert (properties["IpProtocol"], properties["FromPort"], properties["ToPort"]) == (
        "tcp",
        8000,
        8000,
    )
    destination = template[_target(properties["DestinationSecurityGroupId"])]
    assert destination["Type"] == "AWS::EC2::SecurityGroup"


def event_invoke_config(template: Template, logical_id: str) -> None:
    """Failed deliveries go to an SQS queue after Lambda's retries; the waker's nudges
    are neither retried nor kept, and stale after a minute."""
    properties = template[logical_id]["Properties"]
    function = template[_target(properties["FunctionName"])]
    if function["Properties"]["Handler"] == WAKER_HANDLER:
        assert properties["MaximumRetryAttempts"] == 0
        assert properties["MaximumEventAgeInSeconds"] == 60
        assert "DestinationConfig" not in properties
        return
    destination = properties["DestinationConfig"]["OnFailure"]["Destination"]
    assert template[_target(destination)]["Type"] == "AWS::SQS::Queue"
    assert properties["MaximumRetryAttempts"] >= 1


def ses_configuration_set(template: Template, logical_id: str) -> None:
    """Created by local.adjust instead; the consumers' environment names it."""
    referenced = json.dumps(template).count(json.dumps({"Ref": logical_id}))
    assert referenced >= 1, logical_id


def ses_event_destination(template: Template, logical_id: str) -> None:
    """Bounces and complaints go to EventBridge (the email-feedback task's source)."""
    properties = template[logical_id]["Properties"]
    destination = properties["EventDestination"]
    assert destination["Enabled"] is True
    assert set(destination["MatchingEventTypes"]) >= {"bounce", "complaint"}
    assert "EventBridgeDestination" in destination
    configuration_set = template[_target(properties["ConfigurationSetName"])]
    assert configuration_set["Type"] == "AWS::SES::ConfigurationSet"


CHECKS: Mapping[str, Check] = {
    "AWS::SQS::QueuePolicy": queue_policy,
    "AWS::S3::BucketPolicy": bucket_policy,
    "AWS::SNS::TopicPolicy": topic_policy,
    "AWS::CloudWatch::Alarm": alarm,
    "AWS::Scheduler::Schedule": schedule,
    "AWS::ApplicationAutoScaling::ScalableTarget": scalable_target,
    "AWS::ApplicationAutoScaling::ScalingPolicy": scaling_policy,
    "AWS::EC2::SecurityGroupEgress": security_group_egress,
    "AWS::Lambda::EventInvokeConfig": event_invoke_config,
    "AWS::SES::ConfigurationSet": ses_configuration_set,
    "AWS::SES::ConfigurationSetEventDestination": ses_event_destination,
}
