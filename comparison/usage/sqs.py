"""AWS::SQS::Queue: send, receive and delete requests per message, in 64 KB chunks,
plus the empty long-poll receives of every idle poller (ECS threads and Lambda's pollers)."""

from __future__ import annotations

import math

from comparison.routing import ConsumerKind, dead_letter_queue_ids
from comparison.templates import Resource
from comparison.usage.registry import Usage, UsageContext, extracts

_CHUNK_KIB = 64


@extracts("AWS::SQS::Queue")
def queue_requests(queue: Resource, context: UsageContext) -> list[Usage]:
    if queue.logical_id in dead_letter_queue_ids(context.template):
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
            pollers = a.lambda_idle_pollers_per_mapping * len(
                context.template.referrers(queue.logical_id, "AWS::Lambda::EventSourceMapping")
            )
            poller_minutes = pollers * context.monthly(24 * 60)
            note = f"{pollers} event-source pollers x {receives_per_poller_minute:g} receives/min"
        else:
            run = context.runs.get(consumer.logical_id)
            task_seconds = context.monthly(run.unit_seconds) if run is not None else 0.0
            poller_minutes = task_seconds / 60 * consumer.threads_per_unit * share
            note = (
                f"{consumer.threads_per_unit} poller thread(s) per task x "
                f"{receives_per_poller_minute:g} receives/min while running"
            )
        usages.append(
            Usage(
                "sqs.request", poller_minutes * receives_per_poller_minute, queue.logical_id, note
            )
        )
    return usages
