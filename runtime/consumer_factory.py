"""Builds a consumer from options and the environment; shared by the worker and the poller.

Building has two stages, so the poller can report a misconfiguration in its caller's
thread without making the caller wait out a throttled service:

* :func:`prepare_consumer` makes no AWS call: it reads the environment and loads the
  handlers, raising ConfigurationError at once;
* its :class:`~runtime.startup.Preflight` checks the ledger table, the dead-letter
  queue and the queue (reading its visibility timeout), telling throttling from
  misconfiguration (see :mod:`runtime.startup`).

:func:`build_consumer` does both and waits for the checks.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from runtime.aws_clients import client
from runtime.consumer import ConsumerConfig, QueueConsumer, StopSignal
from runtime.dispatcher import Dispatcher
from runtime.errors import ConfigurationError
from runtime.protection import ScaleInProtection
from runtime.settlement import Backoff, DeadLetterRouter, Settler
from runtime.startup import Preflight, StartupStopped

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_sqs.client import SQSClient

__all__ = ["PreparedConsumer", "build_consumer", "prepare_consumer"]


@dataclass(frozen=True)
class PreparedConsumer:
    """A consumer whose start-up checks may still be pending; ``consumer()`` once they pass."""

    preflight: Preflight
    _build: Callable[[], QueueConsumer]

    def consumer(self) -> QueueConsumer:
        if not self.preflight.passed:
            raise RuntimeError("the start-up checks have not passed yet")
        return self._build()


def build_consumer(
    queue_url: str,
    *,
    config: ConsumerConfig | None = None,
    tasks_modules: Iterable[str] = (),
    idempotency: bool = True,
    backoff: Backoff | None = None,
    environ: Mapping[str, str] | None = None,
    sqs: SQSClient | None = None,
    dynamodb: DynamoDBClient | None = None,
    protection: ScaleInProtection | None = None,
    stop: StopSignal | None = None,
) -> QueueConsumer:
    """A checked consumer; waits out throttling, raises StartupStopped if ``stop`` comes first."""
    prepared = prepare_consumer(
        queue_url,
        config=config,
        tasks_modules=tasks_modules,
        idempotency=idempotency,
        backoff=backoff,
        environ=environ,
        sqs=sqs,
        dynamodb=dynamodb,
        protection=protection,
    )
    if not prepared.preflight.wait(stop):
        raise StartupStopped("stopped while waiting for the start-up checks")
    return prepared.consumer()


def prepare_consumer(
    queue_url: str,
    *,
    config: ConsumerConfig | None = None,
    tasks_modules: Iterable[str] = (),
    idempotency: bool = True,
    backoff: Backoff | None = None,
    environ: Mapping[str, str] | None = None,
    sqs: SQSClient | None = None,
    dynamodb: DynamoDBClient | None = None,
    protection: ScaleInProtection | None = None,
) -> PreparedConsumer:
    env = os.environ if environ is None else environ
    sqs = client("sqs") if sqs is None else sqs
    config = config if config is not None else ConsumerConfig()
    dispatcher = Dispatcher.from_env(
        env, tasks_modules=tasks_modules, idempotency=idempotency, dynamodb=dynamodb
    )
    router = DeadLetterRouter.from_env(sqs, env)
    visibility: dict[str, int] = {}

    def read_visibility() -> None:
        if config.visibility_timeout_seconds is not None:
            return
        visibility["seconds"] = _queue_visibility(sqs, queue_url)

    # Fail fast on a wrong table, DLQ or queue: otherwise every good message would fail
    # its claim, or its dead-letter, and be redriven without a reason.
    preflight = Preflight(
        [
            ("idempotency ledger", dispatcher.check),
            ("dead-letter queue", router.check),
            ("queue", read_visibility),
        ]
    )

    def build() -> QueueConsumer:
        checked = config
        if "seconds" in visibility:
            checked = dataclasses.replace(config, visibility_timeout_seconds=visibility["seconds"])
        return QueueConsumer(
            queue_url,
            dispatcher,
            sqs=sqs,
            settler=Settler(sqs, router, backoff if backoff is not None else Backoff()),
            protection=protection if protection is not None else ScaleInProtection.from_env(env),
            config=checked,
        )

    return PreparedConsumer(preflight, build)


def _queue_visibility(sqs: SQSClient, queue_url: str) -> int:
    try:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"]
        )["Attributes"]
    except (ClientError, BotoCoreError) as error:
        raise ConfigurationError(
            f"cannot consume {queue_url}: {error}; check --queue-url "
            "(ASYNC_TASKS_QUEUE_URL) and the role's SQS permissions"
        ) from error
    return int(attributes["VisibilityTimeout"])
