"""The `worker-service` topology: a separate ECS service consuming the shared queue.

The web app only enqueues; a Fargate worker service scales 0..N on backlog per task.
"""

from __future__ import annotations

from stacks.shared_queue import SharedQueueTopologyStack
from task_constructs.queue_worker_service import QueueWorkerService, QueueWorkerServiceProps


class WorkerServiceStack(SharedQueueTopologyStack):
    def add_consumers(self) -> None:
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
