"""The contract between the infrastructure and the runtime: the names both sides use.

The stacks and constructs set these names in the templates; the runtime reads them;
``local/`` and ``comparison/`` read them back from ``cdk.out``. Nothing else from the
runtime is imported by those packages: only this package and ``runtime.catalogue``.

This package imports the standard library only, so the CDK app loads neither boto3 nor
Powertools (``tests/test_contract.py`` checks it). Its submodules hold the formulas
that both sides must compute alike:

- :mod:`runtime.contract.backlog`: the backlog metric the scaling rules track;
- :mod:`runtime.contract.retry_budget`: the redrive count a queue gets for a task;
- :mod:`runtime.contract.payload_limits`: what each delivery path accepts;
- :mod:`runtime.contract.schedule_expression`: the Scheduler expressions;
- :mod:`runtime.contract.storage`: the table's keys, the bucket's key prefixes and
  the scan tag.
- :mod:`runtime.contract.topology`: each topology's identity (name, stack id, consumer
  kind, ADR option), which the stacks stamp on their templates.
"""

from __future__ import annotations

import enum
from typing import Final

# --- Environment variables: set by the infrastructure, read by the runtime ---------

# The shared data (every consumer).
TABLE_ENV: Final = "ASYNC_TASKS_TABLE"
BUCKET_ENV: Final = "ASYNC_TASKS_BUCKET"
# "disabled" opts a consumer out of the idempotency ledger; any other value, or none,
# requires the table.
IDEMPOTENCY_ENV: Final = "ASYNC_TASKS_IDEMPOTENCY"

# Routing, read by the producer: first match wins (per-task queue, shared queue,
# endpoint), so switching topology changes no web-app code.
QUEUE_URL_ENV: Final = "ASYNC_TASKS_QUEUE_URL"
ENDPOINT_URL_ENV: Final = "ASYNC_TASKS_ENDPOINT_URL"
# Tasks registered only on the consumer side: the producer needs their names only.
TASK_NAMES_ENV: Final = "ASYNC_TASKS_TASK_NAMES"
# Deployer-named handler modules, comma-separated (runtime.registry).
MODULES_ENV: Final = "ASYNC_TASKS_MODULES"

# A task's Lambda function (lambdas topology): which task it runs, and its DLQ.
TASK_NAME_ENV: Final = "TASK_NAME"
DLQ_URL_ENV: Final = "ASYNC_TASKS_DLQ_URL"

# ECS scale-in protection's bound, in seconds (worker and poller; default 900): after
# that long protected without a break, a consumer finishes what it holds and releases
# protection, so deployments and scale-in can replace it (runtime.protection).
MAX_PROTECTED_SECONDS_ENV: Final = "ASYNC_TASKS_MAX_PROTECTED_SECONDS"

# The poller inside the web app's gunicorn (webapp-poller topology).
POLLER_CONCURRENCY_ENV: Final = "ASYNC_TASKS_POLLER_CONCURRENCY"
POLLER_DRAIN_ENV: Final = "ASYNC_TASKS_POLLER_DRAIN_SECONDS"

# The endpoint service's task runner (private-endpoints topology).
ENDPOINT_CONCURRENCY_ENV: Final = "ASYNC_TASKS_ENDPOINT_CONCURRENCY"
ENDPOINT_BACKLOG_ENV: Final = "ASYNC_TASKS_ENDPOINT_BACKLOG"
ENDPOINT_DRAIN_ENV: Final = "ASYNC_TASKS_ENDPOINT_DRAIN_SECONDS"

# send-bulk-email.
EMAIL_SENDER_ENV: Final = "ASYNC_TASKS_EMAIL_SENDER"
EMAIL_CONFIGURATION_SET_ENV: Final = "ASYNC_TASKS_EMAIL_CONFIGURATION_SET"
# The account-wide SES send rate (recipients per second) shared by every process that
# sends. Unset: the account's own maximum send rate (SES GetSendQuota); if that cannot
# be read either, DEFAULT_EMAIL_MAX_PER_SECOND, SES's sandbox rate of 1 a second
# ("Service quotas in Amazon SES"), the only one every account has.
EMAIL_MAX_PER_SECOND_ENV: Final = "ASYNC_TASKS_EMAIL_MAX_PER_SECOND"
DEFAULT_EMAIL_MAX_PER_SECOND: Final = 1.0
EMAIL_CHUNK_SIZE_ENV: Final = "ASYNC_TASKS_EMAIL_CHUNK_SIZE"
# Recipients one send-bulk-email run sends when the chunk size is not set: the runtime's
# default, and the cost model's recipients per task.
DEFAULT_EMAIL_CHUNK_SIZE: Final = 500

# property-bulk-upload.
UPLOAD_CHUNK_ROWS_ENV: Final = "ASYNC_TASKS_UPLOAD_CHUNK_ROWS"
# Whether uploads are scanned before loading: "guardduty" (malwareProtection on: only
# uploads GuardDuty tagged clean load) or "off" (the default deploy: an upload loads
# unscanned and its status says "unscanned"). Unset means "guardduty", the strict rule.
UPLOAD_SCANNING_ENV: Final = "ASYNC_TASKS_UPLOAD_SCANNING"
# Tasks this deployment cannot run (comma-separated); the producer refuses them, e.g.
# the email tasks when no emailSender was set at deploy.
UNAVAILABLE_TASKS_ENV: Final = "ASYNC_TASKS_UNAVAILABLE_TASKS"
UPLOAD_MAX_BYTES_ENV: Final = "ASYNC_TASKS_UPLOAD_MAX_BYTES"

# The backlog metric Lambda (worker-service topology).
METRIC_QUEUE_URL_ENV: Final = "QUEUE_URL"
METRIC_CLUSTER_ENV: Final = "CLUSTER_NAME"
METRIC_SERVICE_ENV: Final = "SERVICE_NAME"
METRIC_NAMESPACE_ENV: Final = "METRIC_NAMESPACE"
DEFAULT_METRIC_NAMESPACE: Final = "AsyncTasks"

# The waker (worker-service topology): the producer invokes this function (name or ARN)
# after a send, so the service wakes from zero at once; it reads CLUSTER_NAME and
# SERVICE_NAME as the backlog metric does.
WAKER_FUNCTION_ENV: Final = "ASYNC_TASKS_WAKER_FUNCTION"
# What a trigger's nudge carries: the task it delivered, for the waker's log. Not an
# envelope (no "task" key), so nothing mistakes a nudge for work.
NUDGED_BY_KEY: Final = "nudged_by"

# The invoker Lambda (private-endpoints topology): where schedules' envelopes go.
INVOKER_ENDPOINT_URL_ENV: Final = "ENDPOINT_URL"
INVOKER_TIMEOUT_ENV: Final = "INVOKER_TIMEOUT_SECONDS"


def queue_url_env_for(task: str) -> str:
    """The per-task queue variable: ``ASYNC_TASKS_QUEUE_URL_<TASK>``, the task's name in
    upper case with ``-`` as ``_`` (generate-report -> ..._GENERATE_REPORT)."""
    return f"{QUEUE_URL_ENV}_{task.upper().replace('-', '_')}"


# --- Stack outputs: what local/ and a web-app deployment read after a deploy --------

TASK_TABLE_OUTPUT: Final = "TaskTableName"
UPLOADS_BUCKET_OUTPUT: Final = "UploadsBucketName"
TASK_QUEUE_URL_OUTPUT: Final = "TaskQueueUrl"
TASK_DLQ_URL_OUTPUT: Final = "TaskDeadLetterQueueUrl"
ENDPOINT_URL_OUTPUT: Final = "EndpointUrl"
WEBAPP_PRODUCER_ROLE_OUTPUT: Final = "WebAppProducerRoleArn"
# lambdas: what to set as UNAVAILABLE_TASKS_ENV in the web app (only when some are).
UNAVAILABLE_TASKS_OUTPUT: Final = "UnavailableTasks"


def pascal_case(task_name: str) -> str:
    """generate-report -> GenerateReport, for construct and output ids."""
    return "".join(part.capitalize() for part in task_name.split("-"))


def queue_url_output_for(task: str) -> str:
    """The lambdas topology's per-task queue output: ``QueueUrl<Task>``."""
    return f"QueueUrl{pascal_case(task)}"


# --- Template metadata: how the cost model finds each resource's part ---------------

# CloudFormation resource Metadata: {"AsyncTasks": {"role": <ResourceRole>, ...details}}.
METADATA_KEY: Final = "AsyncTasks"
# Details: the poller threads of an ECS service, the requests one endpoint task runs
# at once (its gunicorn workers x each one's pool threads), the task of a task Lambda.
POLLER_THREADS_DETAIL: Final = "pollerThreads"
ENDPOINT_WORKERS_DETAIL: Final = "workers"
TASK_DETAIL: Final = "task"


class UploadScanning(enum.StrEnum):
    """The values of ``UPLOAD_SCANNING_ENV``."""

    GUARDDUTY = "guardduty"
    OFF = "off"


class ResourceRole(enum.StrEnum):
    """The part a marked resource plays."""

    WEBAPP = "webapp"  # ECS service: the web app (and, in webapp-poller, the consumer)
    WORKER = "worker"  # ECS service: the worker service
    ENDPOINT = "endpoint"  # ECS service: the private endpoint service
    TASK = "task"  # Lambda: one task type's consumer
    BACKLOG_METRIC = "backlog-metric"  # Lambda: publishes the scaling metric
    INVOKER = "invoker"  # Lambda: posts schedules' envelopes to the endpoints
    WAKER = "waker"  # Lambda: sets the worker service's desired count from 0 to 1


# --- Entry points: what the templates run (tests/test_contract.py resolves each) -----

# Lambda handlers.
TASK_HANDLER: Final = "runtime.lambda_batch.handler"
BACKLOG_METRIC_HANDLER: Final = "runtime.backlog_metric.handler"
INVOKER_HANDLER: Final = "runtime.invoker.handler"
WAKER_HANDLER: Final = "runtime.waker.handler"
# The container image's commands: ``python -m`` modules and gunicorn apps.
WORKER_MODULE: Final = "runtime.worker"
WEBAPP_APP: Final = "runtime.web.webapp:app"
ENDPOINTS_APP: Final = "runtime.web.endpoints:app"
POLLER_HOOKS_CONFIG: Final = "python:runtime.gunicorn_hooks"


# --- The envelope --------------------------------------------------------------------

# Every path (SQS body, HTTP body, schedule input) carries this version.
ENVELOPE_VERSION: Final = 1
