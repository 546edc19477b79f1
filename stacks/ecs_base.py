"""The parts every ECS topology shares: network, data, the image and the web app."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import CfnOutput
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam

from runtime.tasks.send_bulk_email import CONFIGURATION_SET_ENV, SENDER_ENV
from stacks.base import TopologyStack
from stacks.data import TaskData, TaskDataProps
from stacks.email import EmailFeedback
from stacks.images import runtime_image
from stacks.network import TaskNetwork, TaskNetworkProps
from stacks.webapp import WebApp, WebAppProps
from task_constructs._email import grant_send_email


class EcsTopologyStack(TopologyStack):
    """Network, data and image; subclasses add the web app and the consumers."""

    def build(self) -> None:
        self.network = TaskNetwork(
            self,
            "Network",
            TaskNetworkProps(
                aws_api_access=self.settings.aws_api_access,
                existing_vpc=self.settings.existing_vpc,
                availability_zones=self.settings.availability_zones,
            ),
        )
        self.data = TaskData(
            self, "Data", TaskDataProps(malware_protection=self.settings.malware_protection)
        )
        self.image = runtime_image(self, self.settings.image)
        self.email_feedback = (
            EmailFeedback(self, "EmailFeedback") if self.settings.email_sender is not None else None
        )
        CfnOutput(self, "TaskTableName", value=self.data.table.table_name)
        CfnOutput(self, "UploadsBucketName", value=self.data.uploads_bucket.bucket_name)
        self.build_topology()

    def build_topology(self) -> None:
        raise NotImplementedError

    @property
    def consumer_environment(self) -> dict[str, str]:
        """What task code needs: the shared data, and the email sender if any."""
        email: dict[str, str] = {}
        if self.settings.email_sender is not None and self.email_feedback is not None:
            email = {
                SENDER_ENV: self.settings.email_sender,
                CONFIGURATION_SET_ENV: self.email_feedback.name,
            }
        return {**self.data.environment, **email}

    def grant_consumer(self, role: iam.IRole) -> None:
        """Task code reads uploads, writes results, keeps state and its ledger, and may
        send email as the configured sender."""
        self.data.grant_task_access(role, self.catalogue)
        if self.settings.email_sender is not None and self.email_feedback is not None:
            grant_send_email(role, self.settings.email_sender, self.email_feedback.name)

    def add_web_app(
        self,
        *,
        environment: Mapping[str, str],
        command: Sequence[str] | None = None,
        poller_threads: int = 0,
    ) -> WebApp:
        return WebApp(
            self,
            "WebApp",
            WebAppProps(
                cluster=self.network.cluster,
                image=self.image,
                vpc_subnets=self.network.task_subnets,
                environment=environment,
                command=command,
                poller_threads=poller_threads,
                cpu_architecture=self.cpu_architecture,
            ),
        )

    @property
    def cpu_architecture(self) -> ecs.CpuArchitecture:
        return self.settings.architecture.cpu_architecture
