"""TaskQueue: an SQS queue for task envelopes, its dead-letter queue and their alarms."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from runtime.catalogue import MAX_RECEIVE_COUNT_LIMIT, TaskType
from runtime.contract.payload_limits import SQS_MESSAGE_BYTES
from runtime.contract.retry_budget import redrive_max_receive_count
from task_constructs.core import defaults
from task_constructs.core.acknowledge import acknowledge_resource
from task_constructs.core.dead_letter_alarm import not_empty_alarm
from task_constructs.core.defaults import given
from task_constructs.core.validation import fail_if_any, fail_props, seconds

# SQS hard limits.
_MAX_VISIBILITY_SECONDS = 12 * 60 * 60
# SQS's maximum, set explicitly so an older template default cannot cap envelopes at
# 256 KiB; the runtime's envelope limits (runtime/contract/payload_limits.py) stay below it.
MAX_MESSAGE_BYTES = SQS_MESSAGE_BYTES
_RETENTION_RANGE_SECONDS = (60, 14 * 24 * 60 * 60)


@dataclass(frozen=True, kw_only=True)
class TaskQueueProps:
    """Properties of a :class:`TaskQueue`."""

    tasks: tuple[TaskType, ...]
    """The task types this queue carries. They drive the redrive count and the
    visibility timeout. Required, at least one."""

    lambda_consumer_timeout: Duration | None = None
    """Timeout of the Lambda function that consumes this queue, if one does. The
    visibility timeout is then at least 6x this plus ``lambda_batching_window``.
    Default: no Lambda consumer; visibility follows the tasks' maximum duration."""

    lambda_batching_window: Duration | None = None
    """The consuming event source's maximum batching window, added to the 6x rule.
    Default: no batching window (0 s)."""

    visibility_timeout: Duration | None = None
    """Override the derived visibility timeout. Must still honour the 6x rule when
    ``lambda_consumer_timeout`` is set. Default: 6x the Lambda timeout plus the
    batching window with a Lambda consumer; otherwise the longest task's
    ``max_duration_seconds`` plus 60 s."""

    max_receive_count: int | None = None
    """Receives before SQS moves a message to the DLQ: a backstop, since the runtime
    dead-letters a task itself after ``max_receive_count`` failed handler attempts and
    receives that are not failures (deploys, lease waits) do not count. Default:
    ``runtime.contract.retry_budget.redrive_max_receive_count`` of the largest catalogue
    ``max_receive_count`` among ``tasks`` (that count plus 10), the same rule the
    runtime documents."""

    retention_period: Duration | None = None
    """How long the main queue keeps a message. Default: 4 days (the SQS default)."""

    dead_letter_queue: sqs.IQueue | None = None
    """Bring your own DLQ. Cannot be combined with ``dead_letter_retention_period``.
    Default: a new DLQ, encrypted like the main queue, TLS-only, kept 14 days."""

    dead_letter_retention_period: Duration | None = None
    """How long the new DLQ keeps a message. Default: 14 days (the SQS maximum)."""

    encryption_key: kms.IKey | None = None
    """A customer-managed KMS key for both queues (billed monthly, opt-in). Default:
    SSE-SQS, encryption at rest with keys SQS manages, at no charge."""

    removal_policy: RemovalPolicy | None = None
    """What happens to both queues, and their policies, when they leave the stack.
    RETAIN keeps them, and the messages in them, e.g. across a topology switch.
    Default: DESTROY, the CDK default for queues."""

    alarms_enabled: bool = True
    """Create the DLQ-not-empty and oldest-message-age alarms ($0.10 per alarm per
    month). Default: true."""

    oldest_message_age_threshold: Duration | None = None
    """Alarm when the oldest message in the main queue is older than this.
    Default: 30 minutes."""

    alarm_topic: sns.ITopic | None = None
    """SNS topic notified when an alarm fires. Default: no action; the alarms are
    visible in CloudWatch only."""

    def __post_init__(self) -> None:
        violations: list[str] = []
        if not self.tasks:
            violations.append("'tasks' is empty; a queue carries at least one task type")
        if self.max_receive_count is not None and not (
            1 <= self.max_receive_count <= MAX_RECEIVE_COUNT_LIMIT
        ):
            violations.append(
                f"max_receive_count is {self.max_receive_count}; SQS accepts "
                f"1..{MAX_RECEIVE_COUNT_LIMIT}"
            )
        visibility = seconds(self.visibility_timeout)
        if visibility is not None and not 0 <= visibility <= _MAX_VISIBILITY_SECONDS:
            violations.append(
                f"visibility_timeout is {visibility:.0f} s; SQS accepts "
                f"0..{_MAX_VISIBILITY_SECONDS}"
            )
        low, high = _RETENTION_RANGE_SECONDS
        for name in ("retention_period", "dead_letter_retention_period"):
            value = seconds(getattr(self, name))
            if value is not None and not low <= value <= high:
                violations.append(f"{name} is {value:.0f} s; SQS accepts {low}..{high} s")
        if self.dead_letter_queue is not None and self.dead_letter_retention_period is not None:
            violations.append(
                "set 'dead_letter_queue' (bring your own) or 'dead_letter_retention_period' "
                "(tune the new one), not both"
            )
        if not self.alarms_enabled and (
            self.alarm_topic is not None or self.oldest_message_age_threshold is not None
        ):
            violations.append(
                "alarm settings were given but alarms_enabled is false; drop them or enable alarms"
            )
        fail_props("TaskQueueProps", violations)


class TaskQueue(Construct):
    """An encrypted, TLS-only SQS queue with a dead-letter queue and two alarms.

    Resources created: ``Queue`` and its TLS-only policy; ``DeadLetterQueue`` and its
    policy unless one is given; ``DeadLetterQueueNotEmpty`` and ``OldestMessageAge``
    alarms unless ``alarms_enabled`` is false.
    """

    def __init__(self, scope: Construct, construct_id: str, props: TaskQueueProps) -> None:
        violations = _cross_field_violations(props)
        fail_if_any("TaskQueue", scope, construct_id, violations)
        super().__init__(scope, construct_id)

        self.tasks = props.tasks
        self.max_receive_count: int = (
            props.max_receive_count
            if props.max_receive_count is not None
            else redrive_max_receive_count(max(task.max_receive_count for task in props.tasks))
        )
        self.visibility_timeout: Duration = (
            props.visibility_timeout
            if props.visibility_timeout is not None
            else _derived_visibility(props)
        )
        encryption = (
            sqs.QueueEncryption.KMS
            if props.encryption_key is not None
            else sqs.QueueEncryption.SQS_MANAGED
        )

        self.dead_letter_queue: sqs.IQueue = (
            props.dead_letter_queue
            if props.dead_letter_queue is not None
            else sqs.Queue(
                self,
                "DeadLetterQueue",
                retention_period=given(
                    props.dead_letter_retention_period, defaults.DEAD_LETTER_RETENTION
                ),
                encryption=encryption,
                encryption_master_key=props.encryption_key,
                enforce_ssl=True,
                removal_policy=props.removal_policy,
                max_message_size_bytes=MAX_MESSAGE_BYTES,
            )
        )
        if props.dead_letter_queue is None:
            acknowledge_resource(
                self.dead_letter_queue,
                "Serverless-SQSRedrivePolicy",
                "This is the dead-letter queue itself: the terminal place for failed tasks.",
            )
        self.queue: sqs.IQueue = sqs.Queue(
            self,
            "Queue",
            visibility_timeout=self.visibility_timeout,
            retention_period=given(props.retention_period, defaults.QUEUE_RETENTION),
            encryption=encryption,
            encryption_master_key=props.encryption_key,
            enforce_ssl=True,
            removal_policy=props.removal_policy,
            max_message_size_bytes=MAX_MESSAGE_BYTES,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=self.max_receive_count
            ),
        )

        if props.removal_policy is not None:
            # CDK leaves a queue's policy (TLS-only) deletable even when the queue is
            # retained; a retained queue keeps it.
            given_dlq = props.dead_letter_queue is not None
            for created in (self.queue, *(() if given_dlq else (self.dead_letter_queue,))):
                policy = created.node.try_find_child("Policy")
                if isinstance(policy, sqs.QueuePolicy):
                    policy.apply_removal_policy(props.removal_policy)

        self.dead_letter_alarm: cloudwatch.IAlarm | None = None
        self.oldest_message_alarm: cloudwatch.IAlarm | None = None
        if props.alarms_enabled:
            self._create_alarms(props)

    def grant_send(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` enqueue tasks (send, and read the queue's attributes)."""
        return self.queue.grant_send_messages(grantee)

    def grant_consume(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` consume tasks, and dead-letter a poison message at once.

        The runtime sends a permanently failing message to the DLQ with its reason
        instead of waiting for ``max_receive_count`` retries.
        """
        self.dead_letter_queue.grant_send_messages(grantee)
        return self.queue.grant_consume_messages(grantee)

    def _create_alarms(self, props: TaskQueueProps) -> None:
        dlq_alarm = not_empty_alarm(
            self,
            "DeadLetterQueueNotEmpty",
            self.dead_letter_queue,
            f"Tasks {_names(self.tasks)} have dead-lettered messages; inspect and redrive the DLQ.",
        )
        threshold = given(props.oldest_message_age_threshold, defaults.OLDEST_MESSAGE_AGE_THRESHOLD)
        age_alarm = cloudwatch.Alarm(
            self,
            "OldestMessageAge",
            alarm_description=(
                f"Tasks {_names(self.tasks)} are waiting longer than "
                f"{threshold.to_human_string()}; consumers are down or too few."
            ),
            metric=self.queue.metric_approximate_age_of_oldest_message(
                period=defaults.ALARM_PERIOD, statistic="Maximum"
            ),
            threshold=threshold.to_seconds(),
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=5,
            datapoints_to_alarm=5,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        if props.alarm_topic is not None:
            action = cloudwatch_actions.SnsAction(props.alarm_topic)
            dlq_alarm.add_alarm_action(action)
            age_alarm.add_alarm_action(action)
        self.dead_letter_alarm = dlq_alarm
        self.oldest_message_alarm = age_alarm


def _derived_visibility(props: TaskQueueProps) -> Duration:
    if props.lambda_consumer_timeout is not None:
        window = seconds(props.lambda_batching_window) or 0
        lambda_timeout = seconds(props.lambda_consumer_timeout) or 0
        return Duration.seconds(defaults.LAMBDA_VISIBILITY_MULTIPLIER * lambda_timeout + window)
    longest = max(task.max_duration_seconds for task in props.tasks)
    return Duration.seconds(longest + defaults.VISIBILITY_GRACE.to_seconds())


def _cross_field_violations(props: TaskQueueProps) -> list[str]:
    lambda_timeout = seconds(props.lambda_consumer_timeout)
    visibility = seconds(props.visibility_timeout)
    found: list[str] = []
    if lambda_timeout is not None:
        minimum = defaults.LAMBDA_VISIBILITY_MULTIPLIER * lambda_timeout + (
            seconds(props.lambda_batching_window) or 0
        )
        if visibility is not None and visibility < minimum:
            found.append(
                f"visibility_timeout is {visibility:.0f} s but a Lambda with a "
                f"{lambda_timeout:.0f} s timeout consumes the queue; use at least "
                f"{minimum:.0f} s (6x the timeout plus the batching window) or omit it"
            )
        if minimum > _MAX_VISIBILITY_SECONDS:
            found.append(
                f"6x the Lambda timeout ({minimum:.0f} s) exceeds the SQS maximum "
                f"visibility of {_MAX_VISIBILITY_SECONDS} s; shorten the timeout"
            )
    elif visibility is None:
        longest = max((task.max_duration_seconds for task in props.tasks), default=0)
        if longest + defaults.VISIBILITY_GRACE.to_seconds() > _MAX_VISIBILITY_SECONDS:
            found.append(
                f"the longest task runs up to {longest} s, beyond the SQS maximum "
                "visibility; set visibility_timeout and rely on the worker heartbeat"
            )
    return found


def _names(tasks: tuple[TaskType, ...]) -> str:
    return ", ".join(task.name for task in tasks)
