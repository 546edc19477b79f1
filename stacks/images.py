"""The container image of the web app, the worker and the private endpoints.

Three sources, each with what the task execution role needs to pull it:
- no ``webappImage``: the project image, built from ``container/Dockerfile`` at deploy
  for the task definitions' CPU architecture (an asset in the bootstrap ECR repository;
  the CDK grants the pull);
- an ECR image URI (``<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>`` or
  ``@sha256:<digest>``), in this account or another: ``ContainerImage.from_ecr_repository``
  grants ``ecr:GetAuthorizationToken`` and the repository's ``BatchCheckLayerAvailability``,
  ``GetDownloadUrlForLayer`` and ``BatchGetImage``. For another account, that
  repository's policy must also allow this account (ECR "Private repository policies");
  a template cannot check that;
- any other registry: public images pull as they are; a private one needs
  ``webappImageCredentials``, the ARN of a Secrets Manager secret with ``username`` and
  ``password`` ("Private registry authentication for tasks" in the ECS guide), which the
  execution role is granted to read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from aws_cdk import Arn, ArnComponents, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = "container/Dockerfile"

# ECR private registry host names (ECR "Private registry" concepts page); FIPS and
# dual-stack hosts are left to the generic registry path.
_ECR_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*?)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})"
    r"|@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


class FargateArchitecture(Enum):
    """The CPU architecture of every ECS task definition and of the image built for it."""

    X86_64 = "x86_64"
    ARM64 = "arm64"

    @property
    def cpu_architecture(self) -> ecs.CpuArchitecture:
        return (
            ecs.CpuArchitecture.ARM64
            if self is FargateArchitecture.ARM64
            else (ecs.CpuArchitecture.X86_64)
        )

    @property
    def asset_platform(self) -> ecr_assets.Platform:
        return (
            ecr_assets.Platform.LINUX_ARM64
            if self is FargateArchitecture.ARM64
            else ecr_assets.Platform.LINUX_AMD64
        )


@dataclass(frozen=True)
class EcrImage:
    """An image URI in an ECR private registry, parsed."""

    account: str
    region: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def tag_or_digest(self) -> str:
        return self.digest or self.tag or "latest"


def parse_ecr_image(uri: str) -> EcrImage | None:
    """The ECR parts of ``uri``, or None when it names another registry."""
    match = _ECR_URI.match(uri)
    if match is None:
        return None
    return EcrImage(
        account=match["account"],
        region=match["region"],
        repository=match["repository"],
        tag=match["tag"],
        digest=match["digest"],
    )


@dataclass(frozen=True, kw_only=True)
class ImageSource:
    uri: str | None = None
    """Default: the project image, built at deploy."""
    credentials_secret_arn: str | None = None
    """For a private non-ECR registry. Default: none (public images)."""
    architecture: FargateArchitecture = FargateArchitecture.X86_64


def runtime_image(scope: Construct, source: ImageSource) -> ecs.ContainerImage:
    """The image every ECS task of the stack runs; see the module docstring."""
    if not source.uri:
        # Synth only stages the build context (.dockerignore keeps it to runtime/ and
        # container/); Docker is needed by `cdk deploy`, never by synth.
        return ecs.ContainerImage.from_asset(
            str(PROJECT_ROOT), file=DOCKERFILE, platform=source.architecture.asset_platform
        )
    ecr_image = parse_ecr_image(source.uri)
    if ecr_image is not None:
        arn = Arn.format(
            ArnComponents(
                service="ecr",
                resource="repository",
                resource_name=ecr_image.repository,
                account=ecr_image.account,
                region=ecr_image.region,
                partition=Stack.of(scope).partition,
            )
        )
        repository = ecr.Repository.from_repository_attributes(
            scope,
            "WebAppImageRepository",
            repository_arn=arn,
            repository_name=ecr_image.repository,
        )
        return ecs.ContainerImage.from_ecr_repository(repository, ecr_image.tag_or_digest)
    credentials = (
        secretsmanager.Secret.from_secret_complete_arn(
            scope, "WebAppImageCredentials", source.credentials_secret_arn
        )
        if source.credentials_secret_arn
        else None
    )
    return ecs.ContainerImage.from_registry(source.uri, credentials=credentials)
