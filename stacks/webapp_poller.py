"""The `webapp-poller` topology (the ADR's decision): the web app consumes the queue.

Each web app task runs one poller, a child process of the gunicorn master started by
``runtime.gunicorn_hooks`` (one per container, whatever the number of gunicorn
workers). The web app's own CPU scaling stays; tasks ride on its capacity.
"""

from __future__ import annotations

from runtime.gunicorn_hooks import CONCURRENCY_ENV, DRAIN_ENV
from stacks.shared_queue import SharedQueueTopologyStack
from stacks.webapp import WEBAPP_PORT

POLLER_THREADS = 2
_POLLING_WEBAPP_COMMAND = (
    "gunicorn",
    "--config",
    "python:runtime.gunicorn_hooks",
    "--bind",
    f"0.0.0.0:{WEBAPP_PORT}",
    "--workers",
    "2",
    "--graceful-timeout",
    "60",
    "runtime.web.webapp:app",
)


class WebappPollerStack(SharedQueueTopologyStack):
    def add_consumers(self) -> None:
        self.web_app = self.add_web_app(
            environment={
                **self.queue_environment,
                CONCURRENCY_ENV: str(POLLER_THREADS),
                DRAIN_ENV: "50",
            },
            command=_POLLING_WEBAPP_COMMAND,
            poller_threads=POLLER_THREADS,
        )
        role = self.web_app.task_definition.task_role
        self.task_queue.grant_send(role)
        self.task_queue.grant_consume(role)
        self.grant_consumer(role)
