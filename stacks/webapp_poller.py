"""The `webapp-poller` topology (the ADR's decision): the web app consumes the queue.

Each web app task runs one poller, a child process of the gunicorn master started by
``runtime.gunicorn_hooks`` (one per container, whatever the number of gunicorn
workers). The web app's own CPU scaling stays; tasks ride on its capacity.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from runtime.contract import (
    POLLER_CONCURRENCY_ENV,
    POLLER_DRAIN_ENV,
    POLLER_HOOKS_CONFIG,
    QUEUE_URL_ENV,
    WEBAPP_APP,
)
from stacks.alarms import add_alarm_notifications
from stacks.ecs_compute import add_ecs_compute
from stacks.settings import TopologyProps
from stacks.shared_data import add_shared_data
from stacks.shared_queue import add_shared_queue, add_shared_triggers
from stacks.sizing import webapp_poller_sizes
from task_constructs.web_app import WEBAPP_PORT

POLLER_DRAIN_SECONDS = 50
_POLLING_WEBAPP_COMMAND = (
    "gunicorn",
    "--config",
    POLLER_HOOKS_CONFIG,
    "--bind",
    f"0.0.0.0:{WEBAPP_PORT}",
    "--workers",
    "2",
    "--graceful-timeout",
    "60",
    WEBAPP_APP,
)


class WebappPollerStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, props: TopologyProps, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        catalogue, settings = props.catalogue, props.settings
        compute = add_ecs_compute(self, settings)
        shared = add_shared_data(self, settings)
        add_alarm_notifications(self, settings)
        task_queue = add_shared_queue(self, catalogue)
        add_shared_triggers(self, catalogue, shared, task_queue)
        poller_threads, web_app_size = webapp_poller_sizes(settings.sizing, catalogue)

        web_app = compute.add_web_app(
            self,
            environment={
                QUEUE_URL_ENV: task_queue.queue.queue_url,
                **shared.consumer_environment,
                **settings.producer_environment(catalogue),
                POLLER_CONCURRENCY_ENV: str(poller_threads),
                POLLER_DRAIN_ENV: str(POLLER_DRAIN_SECONDS),
            },
            size=web_app_size,
            command=_POLLING_WEBAPP_COMMAND,
            poller_threads=poller_threads,
        )
        role = web_app.task_definition.task_role
        task_queue.grant_send(role)
        task_queue.grant_consume(role)
        shared.grant_consumer(role, catalogue)
