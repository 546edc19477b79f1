"""How large an envelope may be on each path: the smallest AWS limit it crosses.

Figures checked on 2026-12-01 against AWS's pages (cited per constant). Where a page
says "1 MB" without saying whether that is 10^6 or 2^20 bytes, the smaller reading
(1,000,000) is used: it cannot be verified offline.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEAD_LETTER_ATTRIBUTE_RESERVE_BYTES",
    "ENDPOINT_PATH",
    "EVENTBRIDGE_EVENT_BYTES",
    "LAMBDA_ASYNC_PAYLOAD_BYTES",
    "SHARED_QUEUE_PATH",
    "SQS_MESSAGE_BYTES",
    "TASK_QUEUE_PATH",
    "PathLimit",
]

# SQS: messages up to 1 MiB (1,048,576 bytes), body plus message attributes
# ("Amazon SQS message quotas", SQS Developer Guide; "Amazon SQS increases maximum
# message payload size to 1 MiB", AWS What's New, 2025). The queue's own
# MaximumMessageSize must be set to it too: CloudFormation's default was 262,144.
SQS_MESSAGE_BYTES = 1_048_576
# Asynchronous Lambda invocation (Scheduler and EventBridge targets, the invoker) and
# SQS event source mappings: "1 MB" ("More room to build: serverless services now
# support payloads up to 1 MB", AWS Compute Blog, 2026-01-29,
# https://aws.amazon.com/blogs/compute/more-room-to-build-serverless-services-now-support-payloads-up-to-1-mb).
LAMBDA_ASYNC_PAYLOAD_BYTES = 1_000_000
# EventBridge events: "1 MB" (same post). Events only reach the runtime wrapped by an
# input transformer, which must fit the event and the envelope fields.
EVENTBRIDGE_EVENT_BYTES = 1_000_000
# EventBridge Scheduler's target Input: no maximum in the API model (botocore's
# scheduler TargetInput has min 1 only) and none found in the Scheduler quotas page;
# not verified. Schedules carry the catalogue's static payloads, a few bytes.
# ALB to IP targets (our Fargate endpoint service): no request-body limit is
# documented for instance/IP targets (only 1 MB for Lambda targets); not verified.
# A dead-lettered copy carries the failure reason as message attributes (reason
# truncated to 4,096 characters, plus five short attributes), which count toward the
# SQS size: leave room for them, or a permanent failure could never be dead-lettered.
DEAD_LETTER_ATTRIBUTE_RESERVE_BYTES = 16_384


@dataclass(frozen=True)
class PathLimit:
    """The byte limit of one path and why, for the error message."""

    path: str
    max_bytes: int
    why: str


SHARED_QUEUE_PATH = PathLimit(
    "the shared SQS queue to the ECS worker or web-app poller",
    SQS_MESSAGE_BYTES - DEAD_LETTER_ATTRIBUTE_RESERVE_BYTES,
    "SQS's 1 MiB less 16 KiB for the dead-letter copy's reason attributes",
)
TASK_QUEUE_PATH = PathLimit(
    "a per-task SQS queue to its Lambda function",
    min(SQS_MESSAGE_BYTES - DEAD_LETTER_ATTRIBUTE_RESERVE_BYTES, LAMBDA_ASYNC_PAYLOAD_BYTES),
    "Lambda's 1 MB for SQS event source mappings",
)
ENDPOINT_PATH = PathLimit(
    "the private task endpoint (internal ALB, or the invoker Lambda for events)",
    LAMBDA_ASYNC_PAYLOAD_BYTES,
    "Lambda's 1 MB for asynchronous invocation of the invoker; the endpoint app accepts the same",
)
