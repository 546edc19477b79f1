"""QueueWorkerService: a Fargate worker service that scales 0..N on backlog per task.

It closes three gaps of aws-ecs-patterns' QueueProcessingFargateService:
- it wakes from zero on one message, where the default steps need 100 visible messages
  (copilot-cli #3376 is the same bug): at once through its waker, which every enqueue
  path nudges, and within a minute or two through a step-scaling alarm on
  ``WakeUpSignal`` if a nudge is lost;
- it counts in-flight messages, and workers hold ECS task scale-in protection while
  they have messages in hand, so a busy service is not scaled in under its workers
  (aws-cdk #9242, #20706);
- it tracks backlog per task (aws-cdk #34072), published by a metric Lambda as one
  plain metric, so no metric math is needed (aws-cdk #20659).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import Duration, Stack
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from runtime.catalogue import TaskType
from runtime.contract import (
    BACKLOG_METRIC_HANDLER,
    DEFAULT_METRIC_NAMESPACE,
    METRIC_CLUSTER_ENV,
    METRIC_NAMESPACE_ENV,
    METRIC_QUEUE_URL_ENV,
    METRIC_SERVICE_ENV,
    QUEUE_URL_ENV,
    WORKER_MODULE,
    ResourceRole,
)
from runtime.contract.backlog import BACKLOG_PER_TASK, WAKE_UP_SIGNAL, target_backlog_per_task
from task_constructs.core import defaults
from task_constructs.core.acknowledge import acknowledge_resource
from task_constructs.core.defaults import given
from task_constructs.core.fargate import FargateSettings, fargate_task_definition
from task_constructs.core.roles import mark_role
from task_constructs.core.runtime_function import RuntimeFunctionSettings, runtime_function
from task_constructs.core.task_protection import grant_task_protection
from task_constructs.core.validation import exactly_one, fail_props, seconds
from task_constructs.service_waker import ServiceWaker, ServiceWakerProps
from task_constructs.task_queue import TaskQueue, TaskQueueProps

# Fargate stops a task at most 120 s after SIGTERM; the worker drains within 100 s.
_STOP_TIMEOUT = Duration.seconds(120)
_METRIC_PERIOD = Duration.minutes(1)


@dataclass(frozen=True, kw_only=True)
class QueueWorkerServiceProps:
    """Properties of :class:`QueueWorkerService`.

    Bring your own ``task_queue``, or give ``tasks`` (and optionally
    ``max_receive_count``) for a new one: never both.
    """

    cluster: ecs.ICluster
    """The cluster to run in. Required: a VPC or cluster is never created silently."""

    image: ecs.ContainerImage
    """The worker image; it must contain the ``runtime`` package."""

    task_queue: TaskQueue | None = None
    """The queue to consume. Default: none; set this or ``tasks``."""

    tasks: tuple[TaskType, ...] | None = None
    """Task types for a new TaskQueue (its defaults apply). Default: none."""

    max_receive_count: int | None = None
    """Tunes the new queue's redrive count; only with ``tasks``. Default: the
    largest ``max_receive_count`` among ``tasks``."""

    min_capacity: int = 0
    """Fewest tasks. Default: 0, so an idle service costs no Fargate time."""

    max_capacity: int = 4
    """Most tasks. Default: 4."""

    worker_concurrency: int = 4
    """Messages one task works on at once (the worker's thread pool). Default: 4."""

    acceptable_latency: Duration | None = None
    """How long a message may wait before work starts. With
    ``average_processing_time`` it sets the target backlog per task:
    latency / processing time x worker_concurrency, at least 1
    (``runtime.contract.backlog.target_backlog_per_task``). Default: 5 minutes."""

    average_processing_time: Duration | None = None
    """Typical time to process one message. Default: the mean of the tasks'
    ``expected_duration_seconds`` in the catalogue."""

    cpu: int = 512
    """Task CPU units. Default: 512 (0.5 vCPU)."""

    memory_mib: int = 4096
    """Task memory; give it room for ``worker_concurrency`` runs of the largest task.
    Default: 4096 MiB, four concurrent runs of 1 GiB."""

    cpu_architecture: ecs.CpuArchitecture | None = None
    """CPU architecture of the task definition; the image must match it.
    Default: x86_64."""

    environment: Mapping[str, str] = field(default_factory=dict)
    """Extra environment for the worker, e.g. the table name. Default: only
    ``ASYNC_TASKS_QUEUE_URL``."""

    vpc_subnets: ec2.SubnetSelection | None = None
    """Where tasks run. Default: the cluster VPC's private subnets; no public IPs."""

    scale_in_cooldown: Duration | None = None
    """Wait after a scale-in before the next. Default: 5 minutes."""

    scale_out_cooldown: Duration | None = None
    """Wait after a scale-out before the next. Default: 1 minute."""

    metric_namespace: str = DEFAULT_METRIC_NAMESPACE
    """CloudWatch namespace of the published metrics. Default: ``AsyncTasks``."""

    log_retention: logs.RetentionDays | None = None
    """Retention of the worker's and the metric Lambda's logs. Default: one month."""

    wake_on_enqueue: bool = True
    """Add a :class:`ServiceWaker` that the producer and the triggers nudge, so the
    service wakes from zero in seconds; the wake-up alarm stays as the fallback.
    Default: true. False leaves the alarm alone (a minute or two)."""

    def __post_init__(self) -> None:
        violations = exactly_one(task_queue=self.task_queue, tasks=self.tasks)
        if self.task_queue is not None and self.max_receive_count is not None:
            violations.append(
                "max_receive_count tunes a new queue; with task_queue set it on that "
                "TaskQueue instead"
            )
        if not 0 <= self.min_capacity <= self.max_capacity:
            violations.append(
                f"capacity must satisfy 0 <= min_capacity <= max_capacity; got "
                f"{self.min_capacity}..{self.max_capacity}"
            )
        if self.max_capacity < 1:
            violations.append(f"max_capacity is {self.max_capacity}; it must be at least 1")
        if self.worker_concurrency < 1:
            violations.append(f"worker_concurrency is {self.worker_concurrency}; use 1 or more")
        for name in ("acceptable_latency", "average_processing_time"):
            value = seconds(getattr(self, name))
            if value is not None and value <= 0:
                violations.append(f"{name} is {value:.0f} s; it must be positive")
        fail_props("QueueWorkerServiceProps", violations)


class QueueWorkerService(Construct):
    """A Fargate service running ``python -m runtime.worker`` on one TaskQueue.

    Resources created: ``Queue`` (unless given), ``TaskDefinition`` and its roles,
    ``LogGroup``, ``Service``, ``BacklogMetric`` (a Lambda, its role and log group, and
    a rule running it every minute), ``Scaling`` (the scalable target with the
    ``BacklogTracking`` target-tracking policy) and ``WakeFromZero`` (a step policy and
    its alarm), and ``Waker`` (a :class:`ServiceWaker`, unless ``wake_on_enqueue`` is
    false). Monthly cost while idle: the metric Lambda's 43,800 runs, five custom
    metrics and the CloudWatch alarms (two from target tracking, the wake-up and its
    stalled alarm).
    """

    def __init__(self, scope: Construct, construct_id: str, props: QueueWorkerServiceProps) -> None:
        super().__init__(scope, construct_id)
        self.task_queue: TaskQueue = (
            props.task_queue
            if props.task_queue is not None
            else TaskQueue(
                self,
                "Queue",
                TaskQueueProps(tasks=props.tasks or (), max_receive_count=props.max_receive_count),
            )
        )
        self.target_backlog_per_task: float = _target_backlog(props, self.task_queue)

        self.task_definition, container = fargate_task_definition(
            self,
            FargateSettings(
                image=props.image,
                cpu=props.cpu,
                memory_mib=props.memory_mib,
                command=[
                    "python",
                    "-m",
                    WORKER_MODULE,
                    "--queue-url",
                    self.task_queue.queue.queue_url,
                    "--concurrency",
                    str(props.worker_concurrency),
                ],
                environment={
                    **props.environment,
                    QUEUE_URL_ENV: self.task_queue.queue.queue_url,
                },
                stop_timeout=_STOP_TIMEOUT,
                log_retention=props.log_retention,
                container_name="worker",
                cpu_architecture=props.cpu_architecture,
            ),
        )
        self.container = container
        # DesiredCount 0, not omitted: CloudFormation would start a new service with one
        # task ("AWS::ECS::Service" DesiredCount), and the worker must run nothing until
        # there is work. The price: a deploy sets the count to 0 again. Workers that
        # hold messages keep their scale-in protection, which deployments respect too
        # ("Protect your Amazon ECS tasks from being terminated by scale-in events"),
        # and the wake-up brings a task back within a minute or two if messages wait.
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=props.cluster,
            task_definition=self.task_definition,
            desired_count=0,
            vpc_subnets=props.vpc_subnets,
            assign_public_ip=False,
            min_healthy_percent=100,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
        )
        mark_role(self.service, ResourceRole.WORKER, poller_threads=props.worker_concurrency)
        self.task_queue.grant_consume(self.task_definition.task_role)
        grant_task_protection(self, self.task_definition.task_role, props.cluster)

        dimensions = {
            "ClusterName": props.cluster.cluster_name,
            "ServiceName": self.service.service_name,
        }
        self.backlog_metric_function = self._metric_function(props, dimensions)
        self.backlog_per_task_metric = cloudwatch.Metric(
            namespace=props.metric_namespace,
            metric_name=BACKLOG_PER_TASK,
            dimensions_map=dimensions,
            statistic="Average",
            period=_METRIC_PERIOD,
        )
        self.scalable_target = self._scaling(props, dimensions)
        self.waker: ServiceWaker | None = (
            ServiceWaker(
                self,
                "Waker",
                ServiceWakerProps(
                    cluster=props.cluster, service=self.service, log_retention=props.log_retention
                ),
            )
            if props.wake_on_enqueue
            else None
        )

    def _metric_function(
        self, props: QueueWorkerServiceProps, dimensions: dict[str, str]
    ) -> lambda_.Function:
        namespace = Construct(self, "BacklogMetric")
        function, role = runtime_function(
            namespace,
            RuntimeFunctionSettings(
                handler=BACKLOG_METRIC_HANDLER,
                description=f"Publishes {BACKLOG_PER_TASK} and {WAKE_UP_SIGNAL} every minute",
                memory_mib=128,
                timeout=Duration.seconds(30),
                log_retention=props.log_retention,
                environment={
                    METRIC_QUEUE_URL_ENV: self.task_queue.queue.queue_url,
                    METRIC_CLUSTER_ENV: dimensions["ClusterName"],
                    METRIC_SERVICE_ENV: dimensions["ServiceName"],
                    METRIC_NAMESPACE_ENV: props.metric_namespace,
                },
            ),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["sqs:GetQueueAttributes"], resources=[self.task_queue.queue.queue_arn]
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeServices"], resources=[self.service.service_arn]
            )
        )
        # PutMetricData has no resource-level permissions; the namespace condition
        # keeps the function to its own metrics.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": props.metric_namespace}},
            )
        )
        rule = events.Rule(
            namespace,
            "EveryMinute",
            description="Run the backlog metric Lambda every minute",
            schedule=events.Schedule.rate(Duration.minutes(1)),
            targets=[events_targets.LambdaFunction(function, retry_attempts=0)],
        )
        mark_role(function, ResourceRole.BACKLOG_METRIC)
        superseded = (
            "A failed run is superseded by the next one a minute later; there is nothing to replay."
        )
        acknowledge_resource(function, "Serverless-LambdaDLQ", superseded)
        acknowledge_resource(rule, "Serverless-EventBusDLQ", superseded)
        return function

    def _scaling(
        self, props: QueueWorkerServiceProps, dimensions: dict[str, str]
    ) -> autoscaling.ScalableTarget:
        target = autoscaling.ScalableTarget(
            self,
            "Scaling",
            service_namespace=autoscaling.ServiceNamespace.ECS,
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=f"service/{dimensions['ClusterName']}/{dimensions['ServiceName']}",
            min_capacity=props.min_capacity,
            max_capacity=props.max_capacity,
            # Application Auto Scaling scales ECS services through its service-linked
            # role ("Service-linked roles for Application Auto Scaling"); without this
            # the construct creates a role nobody uses.
            role=iam.Role.from_role_arn(
                self,
                "ScalingRole",
                Stack.of(self).format_arn(
                    region="",
                    service="iam",
                    resource="role/aws-service-role/ecs.application-autoscaling.amazonaws.com",
                    resource_name="AWSServiceRoleForApplicationAutoScaling_ECSService",
                ),
            ),
        )
        target.scale_to_track_metric(
            "BacklogTracking",
            target_value=self.target_backlog_per_task,
            custom_metric=self.backlog_per_task_metric,
            scale_in_cooldown=given(props.scale_in_cooldown, defaults.WORKER_SCALE_IN_COOLDOWN),
            scale_out_cooldown=given(props.scale_out_cooldown, defaults.WORKER_SCALE_OUT_COOLDOWN),
        )
        wake = Construct(self, "WakeFromZero")
        action = autoscaling.StepScalingAction(
            wake,
            "Policy",
            scaling_target=target,
            adjustment_type=autoscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=Duration.minutes(1),
            metric_aggregation_type=autoscaling.MetricAggregationType.MAXIMUM,
        )
        action.add_adjustment(adjustment=1, lower_bound=0)
        wake_up_signal = cloudwatch.Metric(
            namespace=props.metric_namespace,
            metric_name=WAKE_UP_SIGNAL,
            dimensions_map=dimensions,
            statistic="Maximum",
            period=_METRIC_PERIOD,
        )
        # The wake-up is one alarm period, one scaling step and a task start; if
        # messages still wait with no task after this, tasks fail to start (image pull,
        # quota, subnet) and someone must look. Its own alarm: the step-scaling alarm
        # above fires on every wake-up and notifies nobody.
        stalled_minutes = int(defaults.WAKE_UP_DEADLINE.to_minutes())
        cloudwatch.Alarm(
            wake,
            "Stalled",
            alarm_description=(
                f"Messages have waited {stalled_minutes} minutes with no worker task running "
                "or starting; check the service's stopped tasks for why none starts."
            ),
            metric=wake_up_signal,
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=stalled_minutes,
            datapoints_to_alarm=stalled_minutes,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        cloudwatch.Alarm(
            wake,
            "Alarm",
            alarm_description="Messages are waiting and no worker task is running or starting",
            metric=wake_up_signal,
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ).add_alarm_action(cloudwatch_actions.ApplicationScalingAction(action))
        return target


def _target_backlog(props: QueueWorkerServiceProps, queue: TaskQueue) -> float:
    latency = given(props.acceptable_latency, defaults.ACCEPTABLE_LATENCY).to_seconds()
    processing = (
        seconds(props.average_processing_time)
        if props.average_processing_time is not None
        else sum(task.expected_duration_seconds for task in queue.tasks) / len(queue.tasks)
    )
    if processing is None or processing <= 0:
        raise ValueError(
            "QueueWorkerService: average_processing_time must be a positive duration known "
            f"at synth time, got {props.average_processing_time}"
        )
    return target_backlog_per_task(latency, processing, props.worker_concurrency)
