"""QueueWorkerService: the worker, its backlog-per-task scaling and the wake from zero."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk.assertions import Match, Template

from task_constructs.queue_worker_service import QueueWorkerService, QueueWorkerServiceProps
from task_constructs.task_queue import TaskQueue, TaskQueueProps
from tests.conftest import empty_stack
from tests.task_constructs.conftest import (
    TaskFactory,
    new_cluster,
    registry_image,
    task_type,
)


@pytest.fixture(scope="module")
def built() -> tuple[Stack, QueueWorkerService]:
    """Workers for two tasks, built once (~0.2 s of jsii calls) for the tests that only
    read them."""
    stack = empty_stack()
    tasks = (
        task_type(name="a", expected_duration_seconds=20),
        task_type(name="b", expected_duration_seconds=40),
    )
    props = QueueWorkerServiceProps(
        cluster=new_cluster(stack), image=registry_image(), tasks=tasks, max_capacity=6
    )
    return stack, QueueWorkerService(stack, "Workers", props)


def _resources(stack: Stack, kind: str) -> list[Any]:
    return list(Template.from_stack(stack).find_resources(kind).values())


def test_runs_the_runtime_worker_on_its_queue_and_drains_within_120_s(
    built: tuple[Stack, QueueWorkerService],
) -> None:
    stack, workers = built
    (task_definition,) = _resources(stack, "AWS::ECS::TaskDefinition")
    (container,) = task_definition["Properties"]["ContainerDefinitions"]
    queue_id = stack.get_logical_id(workers.task_queue.queue.node.default_child)  # type: ignore[arg-type]
    assert container["Command"] == [
        "python",
        "-m",
        "runtime.worker",
        "--queue-url",
        {"Ref": queue_id},
        "--concurrency",
        "4",
    ]
    assert container["StopTimeout"] == 120
    (service,) = _resources(stack, "AWS::ECS::Service")
    network = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    # 0, not omitted: CloudFormation starts an omitted count at 1 ("AWS::ECS::Service")
    assert service["Properties"]["DesiredCount"] == 0


def test_scales_between_zero_and_max_capacity(
    built: tuple[Stack, QueueWorkerService],
) -> None:
    stack, _ = built
    Template.from_stack(stack).has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {"MinCapacity": 0, "MaxCapacity": 6, "ScalableDimension": "ecs:service:DesiredCount"},
    )


def test_tracks_backlog_per_task_with_target_latency_over_processing_time(
    built: tuple[Stack, QueueWorkerService],
) -> None:
    stack, workers = built
    # default latency 300 s / mean processing (20+40)/2 = 30 s x 4 threads = 40
    assert workers.target_backlog_per_task == 40
    Template.from_stack(stack).has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": 40,
                "ScaleInCooldown": 300,
                "ScaleOutCooldown": 60,
                "DisableScaleIn": Match.absent(),
                "CustomizedMetricSpecification": Match.object_like(
                    {
                        "MetricName": "BacklogPerTask",
                        "Namespace": "AsyncTasks",
                        "Statistic": "Average",
                    }
                ),
            },
        },
    )


def test_wakes_from_zero_on_one_message_within_one_metric_period(
    built: tuple[Stack, QueueWorkerService],
) -> None:
    stack, _ = built
    # GIVEN the metric Lambda publishes WakeUpSignal=1 when messages wait and no task runs
    template = Template.from_stack(stack)
    # THEN one datapoint of a 60 s period fires a +1 step, whatever the backlog target:
    # publish (<=60 s) + alarm (60 s) + scaling, then the task starts (~1 min) => ~3 min
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "WakeUpSignal",
            "Namespace": "AsyncTasks",
            "Period": 60,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "AlarmActions": [Match.any_value()],
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "StepScaling",
            "StepScalingPolicyConfiguration": {
                "AdjustmentType": "ChangeInCapacity",
                "Cooldown": 60,
                "MetricAggregationType": "Maximum",
                "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
            },
        },
    )


def test_busy_workers_may_protect_their_tasks_from_scale_in(
    built: tuple[Stack, QueueWorkerService],
) -> None:
    stack, workers = built
    policies = json.dumps(
        [p["Properties"]["PolicyDocument"] for p in _resources(stack, "AWS::IAM::Policy")]
    )
    assert '"ecs:UpdateTaskProtection"' in policies
    assert '"ecs:GetTaskProtection"' in policies
    task_role = stack.resolve(workers.task_definition.task_role.role_name)
    (policy,) = [
        p for p in _resources(stack, "AWS::IAM::Policy") if p["Properties"]["Roles"] == [task_role]
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    protection = [s for s in statements if "ecs:UpdateTaskProtection" in s["Action"]]
    assert protection and "task/" in json.dumps(protection[0]["Resource"])


def test_metric_lambda_runs_every_minute_with_narrow_permissions(
    built: tuple[Stack, QueueWorkerService],
) -> None:
    stack, workers = built
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Events::Rule", {"ScheduleExpression": "rate(1 minute)", "State": "ENABLED"}
    )
    function_id = stack.get_logical_id(workers.backlog_metric_function.node.default_child)  # type: ignore[arg-type]
    function = template.to_json()["Resources"][function_id]["Properties"]
    assert function["Handler"] == "runtime.backlog_metric.handler"
    assert set(function["Environment"]["Variables"]) >= {
        "QUEUE_URL",
        "CLUSTER_NAME",
        "SERVICE_NAME",
        "METRIC_NAMESPACE",
    }
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like({"Action": "ecs:DescribeServices"}),
                        Match.object_like(
                            {
                                "Action": "cloudwatch:PutMetricData",
                                "Condition": {
                                    "StringEquals": {"cloudwatch:namespace": "AsyncTasks"}
                                },
                            }
                        ),
                    ]
                )
            }
        },
    )


def test_takes_an_existing_task_queue(
    stack: Stack, cluster: ecs.Cluster, image: ecs.ContainerImage, make_task: TaskFactory
) -> None:
    queue = TaskQueue(stack, "Shared", TaskQueueProps(tasks=(make_task(),)))
    workers = QueueWorkerService(
        stack, "Workers", QueueWorkerServiceProps(cluster=cluster, image=image, task_queue=queue)
    )
    assert workers.task_queue is queue
    Template.from_stack(stack).resource_count_is("AWS::SQS::Queue", 2)


def test_refuses_both_an_existing_queue_and_queue_tuning(
    stack: Stack, cluster: ecs.Cluster, image: ecs.ContainerImage, make_task: TaskFactory
) -> None:
    queue = TaskQueue(stack, "Shared", TaskQueueProps(tasks=(make_task(),)))
    with pytest.raises(ValueError, match="set only one of 'task_queue' or 'tasks'"):
        QueueWorkerServiceProps(
            cluster=cluster, image=image, task_queue=queue, tasks=(make_task(),)
        )
    with pytest.raises(ValueError, match="max_receive_count tunes a new queue"):
        QueueWorkerServiceProps(cluster=cluster, image=image, task_queue=queue, max_receive_count=3)


def test_reports_bad_capacity_and_timing_at_once(
    cluster: ecs.Cluster, image: ecs.ContainerImage, make_task: TaskFactory
) -> None:
    with pytest.raises(ValueError) as raised:
        QueueWorkerServiceProps(
            cluster=cluster,
            image=image,
            tasks=(make_task(),),
            min_capacity=3,
            max_capacity=2,
            worker_concurrency=0,
            acceptable_latency=Duration.seconds(0),
        )
    message = str(raised.value)
    assert "0 <= min_capacity <= max_capacity; got 3..2" in message
    assert "worker_concurrency is 0" in message
    assert "acceptable_latency is 0 s" in message


def test_target_follows_latency_and_processing_props(
    stack: Stack, cluster: ecs.Cluster, image: ecs.ContainerImage, make_task: TaskFactory
) -> None:
    workers = QueueWorkerService(
        stack,
        "Workers",
        QueueWorkerServiceProps(
            cluster=cluster,
            image=image,
            tasks=(make_task(),),
            worker_concurrency=1,
            acceptable_latency=Duration.minutes(2),
            average_processing_time=Duration.seconds(30),
        ),
    )
    assert workers.target_backlog_per_task == 4
