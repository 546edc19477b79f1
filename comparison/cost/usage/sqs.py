"""AWS::SQS::Queue: send, receive and delete requests per message, in 64 KB chunks,
plus the empty long-poll receives of every receiving loop (one per ECS task and queue,
five pollers per Lambda event source mapping)."""

from __future__ import annotations

import math

from comparison.cost.usage.registry import Usage, UsageContext, extracts
from comparison.model.resources import QueueModel
from comparison.model.routing import ConsumerKind

_CHUNK_KIB = 64


@extracts("AWS::SQS::Queue")
def queue_requests(queue: QueueModel, context: UsageContext) -> list[Usage]:
    if queue.dead_letter:
        return []  # only failures land there; negligible next to the work queue
    a = context.assumptions
    receives_per_poller_minute = 60 / a.long_poll_seconds
    usages: list[Usage] = []
    for consumer in context.routing.consumers:
        if queue.logical_id not in consumer.queues:
            continue
        share = 1 / len(consumer.queues)
        for name in consumer.tasks:
            task = context.workload.task(name)
            messages = task.volume_per_month * share
            chunks = math.ceil(task.payload_kib / _CHUNK_KIB)
            usages.append(
                Usage(
                    "sqs.request",
                    messages * (2 * chunks + 1),
                    queue.logical_id,
                    f"{name}: {messages:,.0f} msgs x (send+receive) x {chunks} chunk(s) + delete",
                )
            )
        if consumer.kind is ConsumerKind.LAMBDA:
            pollers = a.lambda_idle_pollers_per_mapping * queue.event_source_mappings
            poller_minutes = pollers * context.monthly(24 * 60)
            note = f"{pollers} event-source pollers x {receives_per_poller_minute:g} receives/min"
            receives = poller_minutes * receives_per_poller_minute
        else:
            # One receiving loop per task and queue; it hands messages to its threads.
            receives = context.idle_receives(consumer) / len(consumer.queues)
            note = f"1 receiving loop per task x {receives_per_poller_minute:g} receives/min"
        usages.append(Usage("sqs.request", receives, queue.logical_id, note))
    return usages
