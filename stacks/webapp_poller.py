"""The `webapp-poller` topology (the ADR's decision): the web app consumes the queue.

Placeholder: the shared queue, triggers and data exist; the web app service that
runs the poller arrives with the ECS topologies.
"""

from __future__ import annotations

from stacks.shared_queue import SharedQueueTopologyStack


class WebappPollerStack(SharedQueueTopologyStack):
    pass
