"""The `worker-service` topology: a separate ECS service consuming the shared queue.

Placeholder: the shared queue, triggers and data exist; the Fargate worker service
and its backlog-per-task scaling arrive with the ECS topologies.
"""

from __future__ import annotations

from stacks.shared_queue import SharedQueueTopologyStack


class WorkerServiceStack(SharedQueueTopologyStack):
    pass
