"""``python -m local.deploy <topology>``: synthesize, deploy into a local moto server, report.

Prints what the emulator created and skipped (by logical id and type) and the
environment that points the runtime at it, then serves until Ctrl-C (``--once``: stop
after printing, for tests and CI).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import boto3

from local import adjust, assets
from local.cloudformation import deploy_stack
from local.emulator import MotoServer, aws_env
from local.model import LocalDeployment
from local.runtime_env import producer_environment
from local.synth import LOCAL_EMAIL_SENDER, synthesize
from stacks.topologies import TOPOLOGIES


@contextmanager
def aws_environment(endpoint_url: str) -> Iterator[None]:
    """Point boto3 in this process at the emulator, restoring the environment after."""
    saved = dict(os.environ)
    os.environ.update(aws_env(endpoint_url))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def deploy(topology: str, endpoint_url: str, cloud_assembly: Path) -> LocalDeployment:
    """Deploy ``topology`` (synthesized into ``cloud_assembly`` if not there yet).

    boto3 must already point at ``endpoint_url`` (see :func:`aws_environment`).
    """
    stack_name = TOPOLOGIES[topology].stack_id
    if not (cloud_assembly / f"{stack_name}.template.json").exists():
        synthesize(topology, cloud_assembly)
    assets.bootstrap()
    # The email task sends as the configured sender; SES refuses unverified ones.
    boto3.client("ses").verify_email_identity(EmailAddress=LOCAL_EMAIL_SENDER)
    template_url = assets.publish_file_assets(cloud_assembly, stack_name)
    template_path = cloud_assembly / f"{stack_name}.template.json"
    stack = deploy_stack(endpoint_url, stack_name, template_url, template_path)
    substitutes, created = adjust.create_ses_configuration_sets(stack, template_path)
    adjustments = [
        *adjust.disable_event_source_mappings(stack),
        *adjust.apply_bucket_versioning(stack, template_path),
        *created,
    ]
    return LocalDeployment(
        topology, endpoint_url, cloud_assembly, stack, tuple(adjustments), substitutes
    )


def report(deployment: LocalDeployment) -> str:
    stack = deployment.stack
    lines = [
        f"{stack.name}: {stack.status} in {stack.seconds:.1f}s at {deployment.endpoint_url}",
        f"created {len(stack.created)}: "
        + ", ".join(f"{t} x{n}" for t, n in sorted(Counter(r.type for r in stack.created).items())),
    ]
    for logical_id in stack.emulated:
        lines.append(
            f"  EMULATED custom resource {logical_id}: moto cannot run its Lambda (no "
            "Docker); local.deploy did the handler's work and answered for it"
        )
    lines += [f"  {note}" for note in deployment.adjustments]
    lines.append(f"skipped by the emulator {len(stack.skipped)} (checked on the template):")
    lines += [f"  {r.logical_id}  {r.type}" for r in stack.skipped]
    lines.append("outputs:")
    lines += [f"  {key} = {value}" for key, value in sorted(stack.outputs.items())]
    lines.append("environment for the producer and the runtime:")
    env = {**aws_env(deployment.endpoint_url), **producer_environment(deployment)}
    env["ASYNC_TASKS_BUCKET"] = stack.outputs["UploadsBucketName"]
    env["ASYNC_TASKS_EMAIL_SENDER"] = LOCAL_EMAIL_SENDER
    lines += [f"  export {key}={value}" for key, value in sorted(env.items())]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/local-deploy", description=__doc__)
    parser.add_argument("topology", choices=sorted(TOPOLOGIES))
    parser.add_argument("--port", type=int, default=None, help="moto port (default: free)")
    parser.add_argument(
        "--once", "--no-wait", action="store_true", help="stop the emulator after printing"
    )
    parser.add_argument("--outdir", type=Path, default=None, help="cloud assembly directory")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="local-cdk.out-") as scratch:
        outdir = args.outdir or Path(scratch)
        with MotoServer(args.port) as server, aws_environment(server.url):
            try:
                deployment = deploy(args.topology, server.url, outdir)
                print(report(deployment), flush=True)
                if args.once:
                    return 0
                print(f"moto server running at {server.url}; Ctrl-C to stop", flush=True)
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                # Ctrl-C at any point, even mid-deploy, stops the server (the with).
                print("stopping", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
