"""Builds a consumer from options and the environment; shared by the worker and the poller."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from runtime.aws_clients import client
from runtime.consumer import ConsumerConfig, QueueConsumer
from runtime.dispatcher import Dispatcher
from runtime.protection import ScaleInProtection
from runtime.settlement import Backoff, DeadLetterRouter, Settler

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_sqs.client import SQSClient


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
) -> QueueConsumer:
    env = os.environ if environ is None else environ
    sqs = client("sqs") if sqs is None else sqs
    dispatcher = Dispatcher.from_env(
        env, tasks_modules=tasks_modules, idempotency=idempotency, dynamodb=dynamodb
    )
    router = DeadLetterRouter.from_env(sqs, env)
    # Fail fast on a wrong table or DLQ: otherwise every good message would fail its
    # claim, or its dead-letter, and be redriven without a reason.
    dispatcher.check()
    router.check()
    settler = Settler(sqs, router, backoff if backoff is not None else Backoff())
    return QueueConsumer(
        queue_url,
        dispatcher,
        sqs=sqs,
        settler=settler,
        protection=protection if protection is not None else ScaleInProtection.from_env(env),
        config=config,
    )
