"""Lambda code and layer for the runtime package, built without Docker."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, Aws, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from task_constructs.core import defaults

RUNTIME_PACKAGE = Path(__file__).resolve().parents[2] / "runtime"
_IGNORED = ("__pycache__", "*.pyc", "*.pyo")
# Container-only code: the web apps import Flask, which no Lambda ships.
_CONTAINER_ONLY = ("web",)


@jsii.implements(ILocalBundling)
class _CopyRuntimePackage:
    """Copy ``runtime/`` into the asset so handlers import as ``runtime.*``.

    The runtime needs only boto3 (in the Lambda runtime) and Powertools (the public
    layer), so no pip install and no Docker are needed.
    """

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        ignore_generated = shutil.ignore_patterns(*_IGNORED)

        def ignore(directory: str, names: list[str]) -> set[str]:
            skipped = set(ignore_generated(directory, names))
            if Path(directory) == RUNTIME_PACKAGE:
                skipped.update(name for name in names if name in _CONTAINER_ONLY)
            return skipped

        shutil.copytree(
            RUNTIME_PACKAGE, Path(output_dir) / "runtime", ignore=ignore, dirs_exist_ok=True
        )
        return True


def runtime_code() -> lambda_.Code:
    """The ``runtime`` package as a Lambda asset, hashed on its source files."""
    return lambda_.Code.from_asset(
        str(RUNTIME_PACKAGE),
        exclude=[*(f"**/{pattern}" for pattern in _IGNORED), *_CONTAINER_ONLY],
        asset_hash_type=AssetHashType.SOURCE,
        bundling=BundlingOptions(
            # Never pulled: local bundling always succeeds first.
            image=DockerImage.from_registry("local-bundling-only"),
            local=_CopyRuntimePackage(),
        ),
    )


def powertools_layer(
    scope: Construct,
    construct_id: str,
    runtime: lambda_.Runtime,
    architecture: lambda_.Architecture,
) -> lambda_.ILayerVersion:
    """The public Powertools for AWS Lambda (Python) v3 layer for this region."""
    python = runtime.name.replace(".", "")  # python3.13 -> python313
    arn = (
        f"arn:{Aws.PARTITION}:lambda:{Aws.REGION}:{defaults.POWERTOOLS_LAYER_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-{python}-{architecture.name}:{defaults.POWERTOOLS_LAYER_VERSION}"
    )
    return lambda_.LayerVersion.from_layer_version_arn(scope, construct_id, arn)
