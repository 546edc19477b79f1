"""The container image of the web app, the worker and the private endpoints."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_ecs as ecs

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = "container/Dockerfile"


def runtime_image(image_uri: str | None) -> ecs.ContainerImage:
    """``image_uri`` when given, else the project image built at deploy time.

    Synth only stages the build context (``.dockerignore`` keeps it to ``runtime/``
    and ``container/``); Docker is needed by ``cdk deploy``, never by synth.
    """
    if image_uri:
        return ecs.ContainerImage.from_registry(image_uri)
    return ecs.ContainerImage.from_asset(str(PROJECT_ROOT), file=DOCKERFILE)
