"""What a Lambda SQS event source mapping does, done in this process.

moto runs no Lambda code without Docker, so the tests (and anyone trying the lambdas
topology locally) receive from the deployed queue, call the function's handler with
the function's own environment, and delete what it did not report as failed, as the
mapping (ReportBatchItemFailures) would.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3

from runtime import lambda_batch


@contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """os.environ with ``values`` added, restored after: the handlers read os.environ."""
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def sqs_event(queue_arn: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The event Lambda builds from received messages (the fields the handler reads)."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": message["Attributes"]["ApproximateReceiveCount"]
                },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": queue_arn.split(":")[3],
            }
            for message in messages
        ]
    }


def invoke_once(queue_url: str, function_env: Mapping[str, str], batch_size: int = 10) -> int:
    """One poll of the mapping: returns how many messages the handler was given."""
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=batch_size,
        WaitTimeSeconds=0,  # moto answers a short poll with every visible message
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
    ).get("Messages", [])
    if not messages:
        return 0
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    with patched_environ(function_env):
        response = lambda_batch.handler(sqs_event(arn, messages), None)
    failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
    done = [m for m in messages if m["MessageId"] not in failed]
    if done:
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
            ],
        )
    return len(messages)


def drain(queue_url: str, function_env: Mapping[str, str]) -> int:
    """Invoke until the queue answers empty; returns the messages handled."""
    total = 0
    while handled := invoke_once(queue_url, function_env):
        total += handled
    return total
