"""Assumptions the templates cannot tell: every one is documented in docs/comparison.md."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.contract import DEFAULT_EMAIL_CHUNK_SIZE

HOURS_PER_MONTH = 730.0
DAYS_PER_MONTH = HOURS_PER_MONTH / 24


@dataclass(frozen=True, kw_only=True)
class Assumptions:
    # Start-up and delivery times.
    fargate_start_seconds: float = 75.0
    """From RunTask to a polling container, image pull included (60-90 s observed)."""
    lambda_cold_start_seconds: float = 1.0
    """INIT duration of a Python function with the Powertools layer; billed since 2025."""
    wake_nudge_seconds: float = 1.0
    """From a send to the woken service's desired count 1: the producer's asynchronous
    Invoke, the waker's start and its DescribeServices and UpdateService calls. Measured
    on the local emulator (benchmarks/wake_on_enqueue.py); on AWS the waker's cold start
    (about 1 s with the Powertools layer) comes on top, not measured here."""
    lambda_keep_warm_seconds: float = 600.0
    """An idle execution environment is reclaimed after about this long."""
    lambda_poll_delay_seconds: float = 1.0
    """An SQS event source's long-polling pollers hand a message over within about 1 s."""

    # Polling.
    long_poll_seconds: float = 20.0
    """ReceiveMessage WaitTimeSeconds: an idle poller thread makes 60/20 = 3 receives/min."""
    lambda_idle_pollers_per_mapping: int = 5
    """AWS keeps about 5 long-polling pollers per SQS event source mapping when idle."""
    default_poller_threads: int = 1
    """Poller threads per ECS task when the metadata gives no ``pollerThreads``."""
    endpoint_workers_per_task: int = 4
    """Concurrent requests one private-endpoints task serves (its web server's workers)."""
    lambda_messages_per_invocation: float = 1.0
    """Messages per Lambda invocation: 1 at low traffic, so the request count is an upper bound."""

    # Scaling (used when the template does not say).
    metric_period_seconds: float = 60.0
    alarm_evaluation_lag_seconds: float = 20.0
    """Time from a datapoint's arrival to the alarm changing state and the scaling action."""
    # Target tracking's own alarms (3 datapoints out, 15 below 90 % in) are AWS's, not
    # assumptions: comparison.model.autoscaler holds them.
    default_max_capacity: int = 10
    default_cooldown_seconds: float = 60.0
    default_cpu_target_percent: float = 70.0

    # Metric Lambda.
    metric_lambda_duration_seconds: float = 0.2
    put_metric_data_per_run: int = 1

    # Logs (ingested bytes).
    log_bytes_per_task: float = 2_000.0
    """About 10 structured JSON lines of 200 bytes per task run."""
    lambda_platform_log_bytes_per_invocation: float = 350.0
    """START, END and REPORT lines Lambda writes for every invocation."""
    metric_lambda_log_bytes_per_run: float = 350.0

    # Network.
    api_overhead_bytes_per_task: float = 8_000.0
    """SQS receive and delete, DynamoDB ledger calls and TLS overhead per task, besides payload."""
    bytes_per_idle_receive: float = 1_000.0
    ecr_api_kib_per_pull: float = 64.0
    """ECR API traffic of one image pull (an auth token, the manifest, the layers' download
    URLs) when the layers themselves come through an S3 endpoint: an estimate, not
    measured here (no image is built offline)."""
    alb_new_connections_per_lcu_second: float = 25.0
    alb_processed_bytes_per_lcu_hour: float = 1e9

    # DynamoDB idempotency ledger.
    dynamodb_writes_per_task: float = 2.0
    dynamodb_reads_per_task: float = 1.0

    # SES (send-bulk-email).
    ses_send_rate_per_second: float = 14.0
    """The account's SES maximum send rate, shared by every sending process (the runtime's
    token bucket; docs/runtime.md). 14 a second is the usual starting rate out of the
    sandbox, which is 1 a second ("Service quotas in Amazon SES"); accounts differ, and
    the figure cannot be checked offline: set yours (SES GetSendQuota)."""
    recipients_per_email_task: int = DEFAULT_EMAIL_CHUNK_SIZE
    """Recipients one send-bulk-email run sends: the runtime's chunk size."""

    # Sizing (comparison/size): the limits the search sizes within, and its headroom.
    lambda_account_concurrency: int = 1000
    """The account's Lambda concurrency in the region, shared by every function: 1,000 is
    the documented default quota, but a new account may start with as few as 10 ("Lambda
    quotas"); check ConcurrentExecutions with `aws lambda get-account-settings`."""
    sizing_headroom: float = 2.0
    """Capacity ceilings (Lambda caps, maximum tasks) are this multiple of what the
    workload needs: a ceiling costs nothing until it is used, and it leaves room for a
    busier day than the simulated ones."""

    # Simulation.
    step_seconds: float = 10.0
    seed: int = 33
    min_simulated_arrivals: int = 5_000
    """Simulate days until about this many messages arrive, so totals move less than 1%
    between seeds (checked in tests/comparison/test_stability.py)."""
    max_simulated_days: int = 14


DEFAULT_ASSUMPTIONS = Assumptions()
