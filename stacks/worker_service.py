"""The `worker-service` topology: a separate ECS service consuming the shared queue.

The web app only enqueues; a Fargate worker service scales 0..N on backlog per task.
"""

from __future__ import annotations

from stacks.outputs import QUEUE_URL_ENV
from stacks.shared_queue import SharedQueueTopologyStack
from task_constructs.queue_worker_service import QueueWorkerService, QueueWorkerServiceProps


class WorkerServiceStack(SharedQueueTopologyStack):
    def add_consumers(self) -> None:
        web_app = self.add_web_app(environment={QUEUE_URL_ENV: self.task_queue.queue.queue_url})
        self.task_queue.grant_send(web_app.task_definition.task_role)
        self.workers = QueueWorkerService(
            self,
            "Workers",
            QueueWorkerServiceProps(
                cluster=self.network.cluster,
                image=self.image,
                task_queue=self.task_queue,
                vpc_subnets=self.network.task_subnets,
                environment=self.consumer_environment,
                cpu_architecture=self.cpu_architecture,
            ),
        )
        role = self.workers.task_definition.task_role
        self.grant_consumer(role)
        self.task_queue.grant_send(role)  # fan-out and continuation tasks
