"""The dead-letter queue for envelopes that Scheduler or EventBridge failed to deliver."""

from aws_cdk import aws_sqs as sqs
from constructs import Construct

from runtime.contract.payload_limits import SQS_MESSAGE_BYTES
from task_constructs.core import defaults
from task_constructs.core.acknowledge import acknowledge_resource
from task_constructs.core.dead_letter_alarm import not_empty_alarm


def delivery_dead_letter_queue(scope: Construct, construct_id: str, sender: str) -> sqs.Queue:
    """An encrypted, TLS-only queue that keeps undelivered envelopes 14 days, and its
    ``NotEmpty`` alarm; ``sender`` names who failed to deliver, for the alarm's text."""
    queue = sqs.Queue(
        scope,
        construct_id,
        retention_period=defaults.DEAD_LETTER_RETENTION,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        # whatever an envelope may weigh
        max_message_size_bytes=SQS_MESSAGE_BYTES,
    )
    reason = (
        "Terminal DLQ for envelopes Scheduler or EventBridge could not deliver; a DLQ "
        "behind it would only move the same envelopes again."
    )
    acknowledge_resource(queue, "AwsSolutions-SQS3", reason)
    acknowledge_resource(queue, "Serverless-SQSRedrivePolicy", reason)
    not_empty_alarm(
        queue,
        "NotEmpty",
        queue,
        f"{sender} could not deliver task envelopes; they wait in this queue for 14 days. "
        "Inspect the error attributes and resend them.",
    )
    return queue
