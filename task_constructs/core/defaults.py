"""Default values for every construct, in one place so docs and tests can cite them."""

from typing import TypeVar

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from runtime.contract.backlog import DEFAULT_ACCEPTABLE_LATENCY_SECONDS

# SQS keeps a message 4 days unless told otherwise; we keep the service default.
QUEUE_RETENTION = Duration.days(4)
# The DLQ keeps failed work for the SQS maximum, so nobody loses it over a long weekend.
DEAD_LETTER_RETENTION = Duration.days(14)
# Grace added to a task's maximum duration when a non-Lambda consumer reads the queue.
VISIBILITY_GRACE = Duration.seconds(60)
# AWS guidance: the visibility timeout of a Lambda-consumed queue is at least 6x the
# function timeout, so retries of a throttled batch do not make a message visible early.
LAMBDA_VISIBILITY_MULTIPLIER = 6
OLDEST_MESSAGE_AGE_THRESHOLD = Duration.minutes(30)
ALARM_PERIOD = Duration.minutes(1)

# The uploads bucket: how long an overwritten or deleted version stays (billed), and
# when S3 aborts a multipart upload nobody completed (its parts are billed too).
NONCURRENT_VERSION_DAYS = 30
INCOMPLETE_UPLOAD_DAYS = Duration.days(7)

# EventBridge Scheduler and rule delivery: retry a few times within an hour, then DLQ.
DELIVERY_RETRY_ATTEMPTS = 3
DELIVERY_MAX_EVENT_AGE = Duration.hours(1)

LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_13
LAMBDA_ARCHITECTURE = lambda_.Architecture.ARM_64
LAMBDA_MAX_BATCH_SIZE = 10
LAMBDA_LOG_RETENTION = logs.RetentionDays.ONE_MONTH
# Public Powertools for AWS Lambda (Python) v3 layer, published by AWS in every
# commercial region under this account.
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_VERSION = 27

# QueueWorkerService: how long a message may wait before work starts.
ACCEPTABLE_LATENCY = Duration.seconds(DEFAULT_ACCEPTABLE_LATENCY_SECONDS)
FARGATE_LOG_RETENTION = logs.RetentionDays.ONE_MONTH
# The image's numeric user (container/Dockerfile, USER 10001); the task definition
# names it too, so ECS and Control Tower's CT.ECS.PR.3 see a non-root user.
CONTAINER_USER = "10001"
# The one writable path on the containers' read-only root filesystem.
SCRATCH_VOLUME = "scratch"
SCRATCH_PATH = "/tmp"
# Scale out quickly on backlog; scale in slowly, so a burst's tail keeps its workers.
WORKER_SCALE_IN_COOLDOWN = Duration.minutes(5)
WORKER_SCALE_OUT_COOLDOWN = Duration.minutes(1)
# Messages waiting with no worker task this long means the wake-up failed.
WAKE_UP_DEADLINE = Duration.minutes(10)
# Endpoint requests are short (202 Accepted); the work runs after the response.
ENDPOINT_DEREGISTRATION_DELAY = Duration.seconds(15)


_T = TypeVar("_T")


def given(value: _T | None, default: _T) -> _T:
    """``value`` unless it is None. Unlike ``value or default``, a given 0 stays 0."""
    return default if value is None else value
