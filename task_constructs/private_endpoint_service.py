"""PrivateEndpointService: an always-on Fargate service behind an internal ALB.

The ADR's first option: a mirror of the web app that runs a task when it receives
``POST /tasks/{name}`` from inside the VPC. EventBridge Scheduler cannot call HTTP, so
an invoker Lambda in the VPC turns scheduled and event-driven envelopes into those
requests. Work in flight is lost if a task stops: the endpoint answers 202 and runs the
task in-process (the ADR's stated con).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from runtime.contract import (
    ENDPOINT_CONCURRENCY_ENV,
    ENDPOINTS_APP,
    INVOKER_ENDPOINT_URL_ENV,
    INVOKER_HANDLER,
    ResourceRole,
)
from task_constructs.core import defaults
from task_constructs.core.acknowledge import acknowledge_resource
from task_constructs.core.defaults import given
from task_constructs.core.delivery_dlq import delivery_dead_letter_queue
from task_constructs.core.fargate import (
    AlwaysOnServiceSettings,
    FargateSettings,
    always_on_service,
    fargate_task_definition,
)
from task_constructs.core.roles import mark_role
from task_constructs.core.runtime_function import RuntimeFunctionSettings, runtime_function
from task_constructs.core.validation import fail_props

ENDPOINT_PORT = 8000
HEALTH_CHECK_PATH = "/health"
_LISTENER_PORT = 80
# The CDK's "disallow all" placeholder: an ICMP type no packet has (252, code 86).
_NO_OTHER_EGRESS = {
    "CidrIp": "255.255.255.255/32",
    "Description": "Disallow all traffic",
    "IpProtocol": "icmp",
    "FromPort": 252,
    "ToPort": 86,
}


def endpoint_processes(request_concurrency: int) -> tuple[int, int]:
    """(gunicorn worker processes, pool threads in each) for ``request_concurrency``
    task runs per container: each process has its own pool (``runtime.web._runner``).
    Two processes when the runs split evenly, so one still answers requests and health
    checks while the other's pool holds the GIL; else one."""
    processes = 2 if request_concurrency % 2 == 0 else 1
    return processes, request_concurrency // processes


def _endpoint_command(processes: int) -> list[str]:
    return [
        "gunicorn",
        "--bind",
        f"0.0.0.0:{ENDPOINT_PORT}",
        "--workers",
        str(processes),
        "--graceful-timeout",
        "100",
        ENDPOINTS_APP,
    ]


@dataclass(frozen=True, kw_only=True)
class PrivateEndpointServiceProps:
    """Properties of :class:`PrivateEndpointService`."""

    cluster: ecs.ICluster
    """The cluster to run in. Required: a VPC or cluster is never created silently."""

    image: ecs.ContainerImage
    """The image; it must serve ``runtime.web.endpoints:app``."""

    vpc_subnets: ec2.SubnetSelection
    """Private subnets for the tasks, the internal ALB and the invoker."""

    environment: Mapping[str, str] = field(default_factory=dict)
    """Extra environment for the service, e.g. the table name. Default: none."""

    min_capacity: int = 1
    """Fewest tasks; at least 1, since a request must find a listener. Default: 1."""

    max_capacity: int = 4
    """Most tasks. Default: 4."""

    cpu_target_percent: int = 60
    """Average CPU the service scales to hold. Default: 60 %."""

    request_concurrency: int = 4
    """Task runs one task holds at once: its gunicorn worker processes times each one's
    pool threads (``ASYNC_TASKS_ENDPOINT_CONCURRENCY``), two processes when the number
    is even, else one (:func:`endpoint_processes`). Stated as the service's ``workers``
    metadata. Give ``memory_mib`` room for this many runs of the largest task.
    Default: 4 (two processes of two threads)."""

    cpu: int = 512
    """Task CPU units. Default: 512 (0.5 vCPU)."""

    memory_mib: int = 4096
    """Task memory. Default: 4096 MiB, four concurrent runs of 1 GiB."""

    cpu_architecture: ecs.CpuArchitecture | None = None
    """CPU architecture of the task definition; the image must match it.
    Default: x86_64."""

    deregistration_delay: Duration | None = None
    """How long the ALB drains a stopping target. Default: 15 s; requests are
    short (202 Accepted) and the work runs after the response."""

    access_logs_bucket: s3.IBucket | None = None
    """Where the ALB writes access logs (the bucket must use SSE-S3). Default: none;
    cdk-nag's ELB2 then needs acknowledging."""

    invoker: bool = True
    """Create the invoker Lambda for schedules and events. Default: true."""

    log_retention: logs.RetentionDays | None = None
    """Retention of the service's and the invoker's logs. Default: one month."""

    def __post_init__(self) -> None:
        violations: list[str] = []
        if self.min_capacity < 1:
            violations.append(
                f"min_capacity is {self.min_capacity}; an always-on endpoint needs at least 1 "
                "task (use worker-service to scale to zero)"
            )
        if self.max_capacity < self.min_capacity:
            violations.append(
                f"max_capacity ({self.max_capacity}) is below min_capacity ({self.min_capacity})"
            )
        if self.request_concurrency < 1:
            violations.append(f"request_concurrency is {self.request_concurrency}; use 1 or more")
        if not 10 <= self.cpu_target_percent <= 90:
            violations.append(f"cpu_target_percent is {self.cpu_target_percent}; use 10..90")
        fail_props("PrivateEndpointServiceProps", violations)


class PrivateEndpointService(Construct):
    """The endpoint service, its internal ALB and the invoker Lambda.

    Resources created: ``TaskDefinition``, ``LogGroup``, ``Service`` with CPU target
    tracking, ``LoadBalancer`` (scheme internal) with an HTTP ``Listener`` whose rule
    forwards ``POST /tasks/*`` to the service and answers 404 otherwise, security
    groups that admit only the clients allowed by :meth:`allow_from`, and ``Invoker``
    (a Lambda in the VPC with two async retries and an on-failure SQS DLQ).
    Monthly cost while idle: ``min_capacity`` tasks and one ALB, 24/7.
    """

    def __init__(
        self, scope: Construct, construct_id: str, props: PrivateEndpointServiceProps
    ) -> None:
        super().__init__(scope, construct_id)
        vpc = props.cluster.vpc
        processes, threads = endpoint_processes(props.request_concurrency)
        self.task_definition, self.container = fargate_task_definition(
            self,
            FargateSettings(
                image=props.image,
                cpu=props.cpu,
                memory_mib=props.memory_mib,
                container_name="endpoints",
                command=_endpoint_command(processes),
                environment={**props.environment, ENDPOINT_CONCURRENCY_ENV: str(threads)},
                container_port=ENDPOINT_PORT,
                stop_timeout=Duration.seconds(120),
                log_retention=props.log_retention,
                cpu_architecture=props.cpu_architecture,
            ),
        )
        self.load_balancer_security_group = ec2.SecurityGroup(
            self,
            "LoadBalancerSecurityGroup",
            vpc=vpc,
            description="Internal ALB of the task endpoints: only allowed clients",
            allow_all_outbound=False,
        )
        self.service_security_group = ec2.SecurityGroup(
            self, "ServiceSecurityGroup", vpc=vpc, description="Task endpoint containers"
        )
        self.service = always_on_service(
            self,
            AlwaysOnServiceSettings(
                cluster=props.cluster,
                task_definition=self.task_definition,
                vpc_subnets=props.vpc_subnets,
                security_group=self.service_security_group,
                min_capacity=props.min_capacity,
                max_capacity=props.max_capacity,
                cpu_target_percent=props.cpu_target_percent,
            ),
        )
        mark_role(self.service, ResourceRole.ENDPOINT, endpoint_workers=props.request_concurrency)

        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            internet_facing=False,
            vpc_subnets=props.vpc_subnets,
            security_group=self.load_balancer_security_group,
            drop_invalid_header_fields=True,
        )
        if props.access_logs_bucket is not None:
            self.load_balancer.log_access_logs(props.access_logs_bucket, prefix="endpoints-alb")
        else:
            acknowledge_resource(
                self.load_balancer,
                "AwsSolutions-ELB2",
                "No access-log bucket was given to this internal ALB.",
            )
        self.listener = self.load_balancer.add_listener(
            "Listener",
            port=_LISTENER_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            open=False,
            default_action=elbv2.ListenerAction.fixed_response(
                404, content_type="text/plain", message_body="no such endpoint"
            ),
        )
        self.target_group = elbv2.ApplicationTargetGroup(
            self,
            "Targets",
            vpc=vpc,
            port=ENDPOINT_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            targets=[self.service],
            deregistration_delay=given(
                props.deregistration_delay, defaults.ENDPOINT_DEREGISTRATION_DELAY
            ),
            health_check=elbv2.HealthCheck(
                path=HEALTH_CHECK_PATH,
                interval=Duration.seconds(15),
                healthy_threshold_count=2,
            ),
        )
        self.listener.add_action(
            "Tasks",
            priority=10,
            conditions=[
                elbv2.ListenerCondition.http_request_methods(["POST"]),
                elbv2.ListenerCondition.path_patterns(["/tasks/*"]),
            ],
            action=elbv2.ListenerAction.forward([self.target_group]),
        )
        self.service_security_group.add_ingress_rule(
            self.load_balancer_security_group,
            ec2.Port.tcp(ENDPOINT_PORT),
            "Only the internal ALB reaches the containers",
        )
        self.load_balancer_security_group.add_egress_rule(
            self.service_security_group,
            ec2.Port.tcp(ENDPOINT_PORT),
            "The ALB forwards to the containers only",
        )
        # The egress above is a separate resource (it names another group), and the
        # CDK then renders no inline egress at all, which EC2 reads as "allow all
        # outbound" (AWS::EC2::SecurityGroup SecurityGroupEgress: "if you do not specify
        # an egress rule, we add egress rules that allow all outbound traffic"). Keep
        # the CDK's own placeholder rule inline, so the targets' port is all it allows.
        cfn_group = self.load_balancer_security_group.node.default_child
        if not isinstance(cfn_group, ec2.CfnSecurityGroup):
            raise TypeError(f"{self.node.path}: the ALB security group has no CfnSecurityGroup")
        cfn_group.add_property_override("SecurityGroupEgress", [_NO_OTHER_EGRESS])
        self.endpoint_url = f"http://{self.load_balancer.load_balancer_dns_name}"
        self.invoker: lambda_.IFunction | None = self._invoker(props) if props.invoker else None

    def allow_from(self, peer: ec2.ISecurityGroup, description: str) -> None:
        """Admit ``peer`` (e.g. the web app's security group) to the ALB's listener."""
        self.load_balancer_security_group.add_ingress_rule(
            peer, ec2.Port.tcp(_LISTENER_PORT), description
        )

    def _invoker(self, props: PrivateEndpointServiceProps) -> lambda_.IFunction:
        namespace = Construct(self, "Invoker")
        security_group = ec2.SecurityGroup(
            namespace,
            "SecurityGroup",
            vpc=props.cluster.vpc,
            description="Invoker Lambda: calls the task endpoints",
        )
        function, _ = runtime_function(
            namespace,
            RuntimeFunctionSettings(
                handler=INVOKER_HANDLER,
                description="POSTs scheduled and event envelopes to the task endpoints",
                memory_mib=128,
                timeout=Duration.seconds(30),
                log_retention=props.log_retention,
                environment={INVOKER_ENDPOINT_URL_ENV: self.endpoint_url},
                vpc=props.cluster.vpc,
                vpc_subnets=props.vpc_subnets,
                security_groups=(security_group,),
            ),
        )
        mark_role(function, ResourceRole.INVOKER)
        self.invoker_dead_letter_queue = delivery_dead_letter_queue(
            namespace, "FailedInvocations", "The invoker Lambda (after its retries)"
        )
        function.configure_async_invoke(
            retry_attempts=2,
            max_event_age=Duration.hours(1),
            on_failure=destinations.SqsDestination(self.invoker_dead_letter_queue),
        )
        acknowledge_resource(
            function,
            "Serverless-LambdaDLQ",
            "Failed async invocations go to an on-failure destination (the "
            "FailedInvocations queue), which keeps the error with the envelope.",
        )
        self.allow_from(security_group, "The invoker Lambda")
        return function
