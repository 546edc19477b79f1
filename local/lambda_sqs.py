"""What a Lambda SQS event source mapping does, done in this process.

moto runs no Lambda code without Docker, so the tests (and anyone trying the lambdas
topology locally) receive from the deployed queue, call the function's handler with
the function's own environment, and delete what it did not report as failed, as the
mapping (ReportBatchItemFailures) would.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3

from local.entrypoints import invoke
from runtime.contract import TASK_HANDLER, TASK_NAME_ENV


def sqs_event(queue_arn: str, messages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
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
    return poll(queue_url, function_env, batch_size)[0]


def poll(queue_url: str, function_env: Mapping[str, str], batch_size: int = 10) -> tuple[int, int]:
    """One poll of the mapping: (messages given to the handler, reported failures)."""
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=batch_size,
        WaitTimeSeconds=0,  # moto answers a short poll with every visible message
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
    ).get("Messages", [])
    if not messages:
        return 0, 0
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    # Every task function's Handler is the contract's TASK_HANDLER (checked on the
    # templates by tests/test_contract.py).
    response = invoke(TASK_HANDLER, sqs_event(arn, messages), function_env)
    failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
    done = [m for m in messages if m["MessageId"] not in failed]
    if done:
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
            ],
        )
    return len(messages), len(failed)


def drain(queue_url: str, function_env: Mapping[str, str]) -> int:
    """Invoke until the queue answers empty; returns the messages handled."""
    total = 0
    while handled := invoke_once(queue_url, function_env):
        total += handled
    return total


@dataclass(frozen=True)
class EventSource:
    """One SQS event source mapping as deployed: which queue feeds which function."""

    function: str  # the function's logical id
    task: str
    queue_url: str
    batch_size: int
    environment: dict[str, str]


def deployed_mappings(deployment: Any) -> list[EventSource]:
    """Every enabled-in-the-template SQS mapping, with the function's deployed
    environment and the mapping's deployed batch size (GetEventSourceMapping)."""
    from local.runtime_env import function_environment

    template = deployment.template
    lambda_client = boto3.client("lambda")
    queues_by_arn = {}
    sqs = boto3.client("sqs")
    for queue in deployment.stack.of_type("AWS::SQS::Queue"):
        arn = sqs.get_queue_attributes(QueueUrl=queue.physical_id, AttributeNames=["QueueArn"])
        queues_by_arn[arn["Attributes"]["QueueArn"]] = queue.physical_id
    mappings = []
    for resource in deployment.stack.of_type("AWS::Lambda::EventSourceMapping"):
        declared = template.resources[resource.logical_id].properties
        function = declared["FunctionName"]["Ref"]
        deployed = lambda_client.get_event_source_mapping(UUID=resource.physical_id)
        environment = function_environment(deployment, function)
        mappings.append(
            EventSource(
                function=function,
                task=environment.get(TASK_NAME_ENV, function),
                queue_url=queues_by_arn[deployed["EventSourceArn"]],
                batch_size=int(deployed.get("BatchSize") or declared.get("BatchSize", 10)),
                environment=environment,
            )
        )
    return mappings


def write_spec(mappings: Sequence[EventSource], path: Path) -> Path:
    path.write_text(json.dumps([asdict(m) for m in mappings]))
    return path


def serve(mappings: Sequence[EventSource], idle_seconds: float = 0.5) -> None:
    """Poll every mapping in turn until SIGTERM or SIGINT, as Lambda's pollers would:
    one batch per poll, partial failures left on the queue (their visibility timeout,
    or the runtime's own backoff, decides when they come back)."""
    stopping: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda received, frame: stopping.append(received))
    print(
        "polling " + ", ".join(f"{m.task} (batch {m.batch_size})" for m in mappings),
        flush=True,
    )
    while not stopping:
        busy = False
        for mapping in mappings:
            if stopping:
                break
            handled, failed = poll(mapping.queue_url, mapping.environment, mapping.batch_size)
            if handled:
                busy = True
                print(
                    f"invoked {mapping.task}: batch of {handled}, {failed} reported failed",
                    flush=True,
                )
        if not busy:
            time.sleep(idle_seconds)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m local.lambda_sqs SPEC.json``: the event sources local-deploy runs."""
    parser = argparse.ArgumentParser(prog="python -m local.lambda_sqs")
    parser.add_argument("spec", type=Path)
    args = parser.parse_args(argv)
    mappings = [EventSource(**item) for item in json.loads(args.spec.read_text())]
    serve(mappings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
