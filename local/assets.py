"""What `cdk bootstrap` and cdk-assets would leave in the account, done with boto3."""

from __future__ import annotations

import io
import json
import zipfile
from contextlib import suppress
from pathlib import Path
from typing import Any

import boto3

from local.emulator import ACCOUNT, REGION

QUALIFIER = "hnb659fds"  # the default bootstrap qualifier the synthesizer names
BOOTSTRAP_VERSION = "30"
ASSETS_BUCKET = f"cdk-{QUALIFIER}-assets-{ACCOUNT}-{REGION}"


def bootstrap() -> None:
    """The two things the templates read: the version parameter and the assets bucket."""
    boto3.client("ssm").put_parameter(
        Name=f"/cdk-bootstrap/{QUALIFIER}/version",
        Value=BOOTSTRAP_VERSION,
        Type="String",
        Overwrite=True,
    )
    s3 = boto3.client("s3")
    with suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(
            Bucket=ASSETS_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )


def publish_file_assets(cloud_assembly: Path, stack_name: str) -> str:
    """Upload the stack's file assets (zipping directories); returns the template URL.

    Docker image assets are refused: there is no Docker here, so synth must use
    ``webappImage`` (local.synth does).
    """
    manifest: dict[str, Any] = json.loads(
        (cloud_assembly / f"{stack_name}.assets.json").read_text()
    )
    if manifest.get("dockerImages"):
        raise RuntimeError(f"{stack_name} has Docker image assets; synth with -c webappImage=...")
    s3 = boto3.client("s3")
    template_key = ""
    for asset in manifest["files"].values():
        source = cloud_assembly / asset["source"]["path"]
        body = _zip(source) if asset["source"].get("packaging") == "zip" else source.read_bytes()
        for destination in asset["destinations"].values():
            s3.put_object(Bucket=ASSETS_BUCKET, Key=destination["objectKey"], Body=body)
            if source.name == f"{stack_name}.template.json":
                template_key = destination["objectKey"]
    if not template_key:
        raise RuntimeError(f"{stack_name}.assets.json lists no template")
    # moto resolves the virtual-hosted form, not a URL on the emulator's own host.
    return f"https://{ASSETS_BUCKET}.s3.amazonaws.com/{template_key}"


def _zip(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory))
    return buffer.getvalue()
