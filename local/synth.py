"""Synthesize one topology for the emulator, the way `cdk synth` would run app.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# No Docker here: a registry image instead of the project's image asset. The
# emulator runs no containers, so which image the task definitions name is moot.
LOCAL_IMAGE = "public.ecr.aws/docker/library/python:3.13-slim"
# The SES identity the email task sends as; deploy verifies it in the emulator.
LOCAL_EMAIL_SENDER = "tasks@example.com"


class SynthError(RuntimeError):
    """app.py failed; the message carries its output."""


def local_context(topology: str, extra: Mapping[str, object] | None = None) -> dict[str, object]:
    """cdk.json's context, the emulator's image and sender, then ``extra`` (``-c``)."""
    context: dict[str, object] = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    return {
        **context,
        "topology": topology,
        "webappImage": LOCAL_IMAGE,
        "emailSender": LOCAL_EMAIL_SENDER,
        **(extra or {}),
    }


def synthesize(topology: str, outdir: Path, extra: Mapping[str, object] | None = None) -> Path:
    """Run app.py directly (seconds; the CLI adds nothing the emulator needs)."""
    return synthesize_with(local_context(topology, extra), outdir)


def synthesize_with(context: dict[str, object], outdir: Path) -> Path:
    """app.py with this context, as the CDK CLI passes it; raises SynthError."""
    topology = context.get("topology")
    env = {**os.environ, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(context)}
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        # Out of the terminal's process group: Ctrl-C must not reach the CDK's
        # JavaScript process (it prints a long traceback); run() kills it instead.
        start_new_session=True,
    )
    if result.returncode != 0:
        raise SynthError(f"synth of {topology} failed:\n{result.stdout}\n{result.stderr}")
    return outdir
