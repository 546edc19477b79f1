"""Small CDK stacks with the resources the ECS topologies will have, following the
``AsyncTasks`` metadata contract, so the extractors are tested before the real stacks land."""

from __future__ import annotations

from aws_cdk import App, Duration, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

IMAGE = ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/python:3.13-slim")
BACKLOG = cloudwatch.Metric(
    namespace="AsyncTasks",
    metric_name="BacklogPerTask",
    statistic="Average",
    period=Duration.minutes(1),
)
WORKER_TARGET = 2.5
WORKER_THREADS = 2


def _role(construct: Construct, role: str, **extra: object) -> None:
    """Put the ``AsyncTasks`` metadata on the L1 resource of a construct."""
    construct.node.default_child.add_metadata("AsyncTasks", {"role": role, **extra})  # type: ignore[union-attr]


def _queue(stack: Stack) -> sqs.Queue:
    dead = sqs.Queue(stack, "DeadLetterQueue")
    return sqs.Queue(
        stack,
        "Queue",
        dead_letter_queue=sqs.DeadLetterQueue(queue=dead, max_receive_count=3),
    )


def _small_function(stack: Stack, construct_id: str, role: str) -> lambda_.Function:
    function = lambda_.Function(
        stack,
        construct_id,
        runtime=lambda_.Runtime.PYTHON_3_13,
        architecture=lambda_.Architecture.ARM_64,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
        memory_size=128,
    )
    _role(function, role)
    return function


def _definition(
    stack: Stack, cpu: int, memory: int, queue: sqs.IQueue | None
) -> ecs.FargateTaskDefinition:
    definition = ecs.FargateTaskDefinition(
        stack,
        "TaskDefinition",
        cpu=cpu,
        memory_limit_mib=memory,
        runtime_platform=ecs.RuntimePlatform(
            cpu_architecture=ecs.CpuArchitecture.ARM64,
            operating_system_family=ecs.OperatingSystemFamily.LINUX,
        ),
    )
    environment = {"ASYNC_TASKS_QUEUE_URL": queue.queue_url} if queue is not None else {}
    definition.add_container(
        "App",
        image=IMAGE,
        environment=environment,
        port_mappings=[ecs.PortMapping(container_port=8000)],
    )
    return definition


def worker_service_stack(app: App) -> Stack:
    """Worker service 0..10 on backlog per task, woken from zero by a step-scaling alarm."""
    stack = Stack(app, "Fixture-WorkerService")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    cluster = ecs.Cluster(stack, "Cluster", vpc=vpc)
    queue = _queue(stack)
    service = ecs.FargateService(
        stack,
        "Worker",
        cluster=cluster,
        task_definition=_definition(stack, 512, 1024, queue),
        desired_count=0,
    )
    _role(service, "worker", pollerThreads=WORKER_THREADS)
    scaling = service.auto_scale_task_count(min_capacity=0, max_capacity=10)
    scaling.scale_to_track_custom_metric(
        "BacklogTracking",
        metric=BACKLOG,
        target_value=WORKER_TARGET,
        scale_in_cooldown=Duration.seconds(60),
        scale_out_cooldown=Duration.seconds(60),
    )
    # The wake-up: the metric Lambda publishes WakeUpSignal > 0 when messages wait and
    # no task runs or starts; one datapoint adds a task.
    wake = appscaling.StepScalingAction(
        stack,
        "WakeFromZero",
        scaling_target=scaling,  # type: ignore[arg-type]
        adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
        cooldown=Duration.minutes(1),
    )
    wake.add_adjustment(adjustment=1, lower_bound=0)
    cloudwatch.Alarm(
        stack,
        "WakeAlarm",
        metric=cloudwatch.Metric(
            namespace="AsyncTasks",
            metric_name="WakeUpSignal",
            statistic="Maximum",
            period=Duration.minutes(1),
        ),
        threshold=0,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        datapoints_to_alarm=1,
    ).add_alarm_action(cloudwatch_actions.ApplicationScalingAction(wake))
    metric_function = _small_function(stack, "BacklogMetric", "backlog-metric")
    events.Rule(
        stack,
        "EveryMinute",
        schedule=events.Schedule.rate(Duration.minutes(1)),
        targets=[events_targets.LambdaFunction(metric_function)],
    )
    return stack


def private_endpoints_stack(app: App) -> Stack:
    """An always-on service (1..4 on CPU) behind an internal ALB, an invoker for schedules."""
    stack = Stack(app, "Fixture-PrivateEndpoints")
    vpc = _vpc_without_nat(stack, "Private", ec2.SubnetType.PRIVATE_ISOLATED)
    vpc.add_interface_endpoint("Logs", service=ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS)
    cluster = ecs.Cluster(stack, "Cluster", vpc=vpc)
    service = ecs.FargateService(
        stack,
        "Endpoint",
        cluster=cluster,
        task_definition=_definition(stack, 512, 1024, None),
        desired_count=1,
    )
    _role(service, "endpoint", workers=4)
    load_balancer = elbv2.ApplicationLoadBalancer(stack, "Alb", vpc=vpc, internet_facing=False)
    listener = load_balancer.add_listener("Http", port=80, open=False)
    listener.add_targets("Service", port=8000, targets=[service])
    scaling = service.auto_scale_task_count(min_capacity=1, max_capacity=4)
    scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=70)
    invoker = _small_function(stack, "Invoker", "invoker")
    scheduler.Schedule(
        stack,
        "Nightly",
        schedule=scheduler.ScheduleExpression.expression("cron(0 2 * * ? *)"),
        target=scheduler_targets.LambdaInvoke(invoker),
    )
    return stack


def webapp_poller_stack(app: App) -> Stack:
    """The web app (2 tasks, 2 poller threads each) polls the queue; tasks get public IPs."""
    stack = Stack(app, "Fixture-WebappPoller")
    vpc = _vpc_without_nat(stack, "Public", ec2.SubnetType.PUBLIC)
    cluster = ecs.Cluster(stack, "Cluster", vpc=vpc)
    queue = _queue(stack)
    service = ecs.FargateService(
        stack,
        "WebApp",
        cluster=cluster,
        task_definition=_definition(stack, 1024, 2048, queue),
        desired_count=2,
        assign_public_ip=True,
    )
    _role(service, "webapp", pollerThreads=2)
    scaling = service.auto_scale_task_count(min_capacity=2, max_capacity=10)
    scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=60)
    return stack


def synthesize_fixtures(outdir: str, context: dict[str, object]) -> None:
    # CDK's built-in CloudFormation validator only warns, and nothing reads its report
    # here; its WASM engine costs ~2 s to start (stacks.topologies.new_app: off too).
    app = App(context=context, outdir=outdir, builtin_cloud_formation_validation=False)
    worker_service_stack(app)
    private_endpoints_stack(app)
    webapp_poller_stack(app)
    app.synth()


def _vpc_without_nat(stack: Stack, name: str, subnet_type: ec2.SubnetType) -> ec2.Vpc:
    """A 2-AZ VPC with one kind of subnet and no NAT gateway."""
    return ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name=name, subnet_type=subnet_type)],
    )
