"""The SQS worker, the ECS entry point: ``python -m runtime.worker --queue-url URL``.

SIGTERM (or SIGINT) stops receiving, releases unstarted messages, lets running tasks
finish within ``--drain-seconds`` (default 100 s, under Fargate's 120 s stopTimeout)
and exits 0; exit 1 means tasks were still running at the deadline (their messages
come back after their visibility timeout) or one ran past its maximum duration, and
exit 2 a configuration error, found at start-up and named in one line (no queue, a
bad handler module, a queue that cannot be read, a wrong or forbidden
ASYNC_TASKS_TABLE or ASYNC_TASKS_DLQ_URL, an ASYNC_TASKS_MAX_PROTECTED_SECONDS that is
not a positive number). Throttling or a 5xx at start-up is no configuration error: the
checks are retried with backoff until the service answers (see runtime.startup), and a
SIGTERM meanwhile exits 0.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from runtime.consumer import ConsumerConfig, StopSignal
from runtime.consumer_factory import build_consumer
from runtime.errors import ConfigurationError
from runtime.gunicorn_hooks import STOP_PARENT_ENV
from runtime.log import logger
from runtime.producer import QUEUE_URL_ENV
from runtime.settlement import Backoff
from runtime.startup import StartupStopped

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_sqs.client import SQSClient

__all__ = ["main", "parse_args"]

EXIT_OK, EXIT_ABANDONED, EXIT_CONFIG = 0, 1, 2


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m runtime.worker", description=__doc__)
    parser.add_argument(
        "--queue-url",
        default=os.environ.get(QUEUE_URL_ENV),
        help=f"queue to consume (default: ${QUEUE_URL_ENV})",
    )
    parser.add_argument("--concurrency", type=int, default=4, help="handler threads (default 4)")
    parser.add_argument(
        "--tasks-module",
        action="append",
        default=[],
        help="module registering extra handlers; repeat or comma-separate "
        "(added to $ASYNC_TASKS_MODULES)",
    )
    parser.add_argument(
        "--drain-seconds", type=float, default=100.0, help="drain budget on SIGTERM (default 100)"
    )
    parser.add_argument(
        "--wait-seconds", type=int, default=20, help="long-poll wait, 0..20 (default 20)"
    )
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        default=None,
        help="seconds the heartbeat extends messages by (default: the queue's setting)",
    )
    parser.add_argument(
        "--backoff-base", type=float, default=5.0, help="first retry delay, s (default 5)"
    )
    parser.add_argument(
        "--backoff-max", type=float, default=900.0, help="retry delay cap, s (default 900)"
    )
    parser.add_argument(
        "--no-idempotency",
        action="store_true",
        help="run without the idempotency ledger (only for naturally idempotent handlers)",
    )
    return parser.parse_args(argv)


def main(
    argv: Sequence[str] | None = None,
    *,
    sqs: SQSClient | None = None,
    dynamodb: DynamoDBClient | None = None,
) -> int:
    args = parse_args(argv)
    if not args.queue_url:
        print(f"error: pass --queue-url or set {QUEUE_URL_ENV}", file=sys.stderr)
        return EXIT_CONFIG
    stop = StopSignal()
    for signum in (signal.SIGTERM, signal.SIGINT):
        # Only flag the request: the consumer logs and drains outside the handler.
        signal.signal(signum, lambda received, frame: stop.request())
    try:
        # Waits out a throttled or failing service; a SIGTERM meanwhile ends it cleanly.
        consumer = build_consumer(
            args.queue_url,
            config=ConsumerConfig(
                concurrency=args.concurrency,
                wait_seconds=args.wait_seconds,
                drain_seconds=args.drain_seconds,
                visibility_timeout_seconds=args.visibility_timeout,
            ),
            tasks_modules=args.tasks_module,
            idempotency=not args.no_idempotency,
            backoff=Backoff(args.backoff_base, args.backoff_max),
            sqs=sqs,
            dynamodb=dynamodb,
            stop=stop,
        )
    except (ConfigurationError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except StartupStopped:
        logger.info("worker stopped during its start-up checks", extra={"pid": os.getpid()})
        return EXIT_OK
    logger.info(
        "worker started",
        extra={"queue_url": args.queue_url, "concurrency": args.concurrency, "pid": os.getpid()},
    )
    try:
        report = consumer.run(stop)
    except (BotoCoreError, ClientError) as error:
        # Only start-up calls escape the loop (e.g. the queue does not exist).
        print(f"error: cannot consume {args.queue_url}: {error}", file=sys.stderr)
        return EXIT_CONFIG
    # A task still running at exit, or one abandoned past its maximum duration: exit
    # non-zero so ECS replaces the task (and the runaway thread ends with the process).
    return EXIT_ABANDONED if report.abandoned or report.overdue else EXIT_OK


def stop_parent_on_failure(code: int, environ: Mapping[str, str] | None = None) -> None:
    """Under the gunicorn hook, a failed poller stops the master (see gunicorn_hooks)."""
    env = os.environ if environ is None else environ
    parent = env.get(STOP_PARENT_ENV, "")
    # Only the parent that asked: a variable inherited further down names another pid.
    if code != EXIT_OK and parent == str(os.getppid()):
        logger.error(
            "poller failed; stopping the web app so ECS replaces the task",
            extra={"exit_code": code, "parent_pid": parent},
        )
        os.kill(int(parent), signal.SIGTERM)


if __name__ == "__main__":
    code = main()
    stop_parent_on_failure(code)
    sys.stdout.flush()
    # Abandoned handler threads cannot be joined; leave without waiting for them.
    os._exit(code)
