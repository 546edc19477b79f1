"""The `worker-service` topology: a separate ECS service consuming the shared queue.

The web app only enqueues; a Fargate worker service scales 0..N on backlog per task.
"""

from __future__ import annotations

from typing import Any

from constructs import Construct

from runtime.catalogue import TaskCatalogue
from stacks.settings import TopologySettings
from stacks.shared_queue import SharedQueueTopologyStack
from task_constructs.queue_worker_service import QueueWorkerService, QueueWorkerServiceProps


class WorkerServiceStack(SharedQueueTopologyStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        catalogue: TaskCatalogue,
        settings: TopologySettings,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, catalogue=catalogue, settings=settings, **kwargs)
        web_app = self.add_web_app(environment=self.queue_environment)
        self.task_queue.grant_send(web_app.task_definition.task_role)
        self.workers = QueueWorkerService(
            self,
            "Workers",
            QueueWorkerServiceProps(
                cluster=self.network.cluster,
                image=self.image,
                task_queue=self.task_queue,
                vpc_subnets=self.network.task_subnets,
                environment=self.data_environment,
            ),
        )
        self.grant_data(self.workers.task_definition.task_role)
