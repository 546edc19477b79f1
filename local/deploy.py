"""``python -m local.deploy <topology>``: synthesize, deploy into a local moto server,
run the topology's consumers against it, until Ctrl-C.

Prints what the emulator created, skipped and changed, starts the consumers
(local.consumers), then prints the ``export`` lines that point a shell's producer at
it and a ``ready`` line. ``--once`` stops after the deploy report (tests, CI).
Ctrl-C (or SIGTERM) stops the consumers, then the emulator, and exits 0; any error
is one line on stderr and exit 1 (2 for bad arguments).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib.util
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from comparison.errors import TemplateError
from comparison.inputs.templates import template_path as stack_template_path
from local import adjust, assets
from local.cloudformation import DeployError, deploy_stack
from local.consumers import ConsumerError, consumers_for
from local.differences import differences, report_lines
from local.emulator import EmulatorError, MotoServer, aws_env
from local.fire import FIRABLE, FireError, fire
from local.model import LocalDeployment
from local.processes import PROJECT_ROOT, venv_executable
from local.runtime_env import producer_environment
from local.synth import LOCAL_EMAIL_SENDER, SynthError, synthesize
from runtime.contract import BUCKET_ENV, EMAIL_SENDER_ENV, ENDPOINT_URL_ENV, UPLOADS_BUCKET_OUTPUT
from runtime.contract.topology import BY_NAME, ConsumerKind, topology_names


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


def deploy(
    topology: str,
    endpoint_url: str,
    cloud_assembly: Path,
    context: Mapping[str, str] | None = None,
) -> LocalDeployment:
    """Deploy ``topology`` (synthesized into ``cloud_assembly`` with ``context`` if not
    there yet).

    boto3 must already point at ``endpoint_url`` (see :func:`aws_environment`).
    """
    stack_name = BY_NAME[topology].stack_id
    template_path = stack_template_path(cloud_assembly, stack_name)
    if not template_path.exists():
        synthesize(topology, cloud_assembly, context)
    assets.bootstrap()
    # The email task sends as the configured sender; SES refuses unverified ones.
    boto3.client("ses").verify_email_identity(EmailAddress=LOCAL_EMAIL_SENDER)
    template_url = assets.publish_file_assets(cloud_assembly, stack_name)
    stack = deploy_stack(endpoint_url, stack_name, template_url, template_path)
    substitutes, created = adjust.create_ses_configuration_sets(stack, template_path)
    adjustments = [
        *adjust.disable_event_source_mappings(stack),
        *adjust.apply_bucket_versioning(stack, template_path),
        *created,
    ]
    changed = report_lines(differences(stack, template_path))
    return LocalDeployment(
        topology,
        endpoint_url,
        cloud_assembly,
        stack,
        adjustments=tuple(adjustments),
        substitutes=substitutes,
        differences=tuple(changed),
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
    lines.append(
        f"changed or dropped by the emulator {len(deployment.differences)} (the template "
        "compared with what its describe calls report):"
    )
    lines += [f"  {line}" for line in deployment.differences]
    lines.append(f"skipped by the emulator {len(stack.skipped)} (checked on the template):")
    lines += [f"  {r.logical_id}  {r.type}" for r in stack.skipped]
    lines.append("outputs:")
    lines += [f"  {key} = {value}" for key, value in sorted(stack.outputs.items())]
    return "\n".join(lines)


def shell_environment(deployment: LocalDeployment, extra: dict[str, str]) -> dict[str, str]:
    """What a shell needs to enqueue into the running topology (and run the runtime)."""
    env = {**aws_env(deployment.endpoint_url), **producer_environment(deployment)}
    env[BUCKET_ENV] = deployment.stack.outputs[UPLOADS_BUCKET_OUTPUT]
    env[EMAIL_SENDER_ENV] = LOCAL_EMAIL_SENDER
    return {**env, **extra}


def exports(env: dict[str, str], *, running: bool = True) -> str:
    """The lines to paste into another shell, then what to run there."""
    lines = [
        f"in another shell, paste (from {PROJECT_ROOT}):",
        f'  export PATH="{PROJECT_ROOT / ".venv" / "bin"}:$PATH"',
    ]
    lines += [f"  export {key}={shlex.quote(value)}" for key, value in sorted(env.items())]
    if running:
        lines += [
            "then enqueue, and watch the task run here:",
            "  python -c 'from runtime.producer import enqueue; "
            'print(enqueue("generate-report", {"period": "previous-day"}))\'',
            "  python -m local.fire <task>   # a schedule or rule now: " + ", ".join(FIRABLE),
        ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/local-deploy",
        description="Deploy one topology into a local AWS emulator (moto, 127.0.0.1) and "
        "run its consumers until Ctrl-C. See docs/local.md.",
    )
    parser.add_argument("topology", choices=topology_names())
    parser.add_argument("--port", type=int, default=None, help="moto port (default: free)")
    parser.add_argument(
        "--once", "--no-wait", action="store_true", help="stop after the deploy report"
    )
    parser.add_argument(
        "--fire",
        action="append",
        default=[],
        metavar="TASK",
        help="fire a schedule or rule target once the consumers run (repeatable); from "
        "another shell: python -m local.fire TASK",
    )
    parser.add_argument(
        "--minute-seconds",
        type=float,
        default=1.0,
        help="worker-service: real seconds per simulated minute of scaling (default 1)",
    )
    parser.add_argument("--outdir", type=Path, default=None, help="cloud assembly directory")
    parser.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        type=_context_pair,
        metavar="KEY=VALUE",
        help="CDK context for the synth, as `cdk synth -c` takes it (repeatable), e.g. "
        "-c wakeOnEnqueue=false",
    )
    return parser.parse_args(argv)


def _context_pair(value: str) -> tuple[str, str]:
    key, sep, setting = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"'{value}' is not KEY=VALUE, e.g. wakeOnEnqueue=false")
    return key, setting


class StartError(RuntimeError):
    """local-deploy cannot start (dependency, second instance); one line."""


def check_dependencies(topology: str) -> None:
    # The container topologies need gunicorn (their images run it); lambdas runs none.
    fargate = BY_NAME[topology].kind is not ConsumerKind.LAMBDA
    needed = ["moto_server"] + (["gunicorn"] if fargate else [])
    for name in needed:
        if not Path(venv_executable(name)).exists():
            raise StartError(f"{name} not found beside {sys.executable}; run scripts/setup")
    if shutil.which("node") is None:
        raise StartError(
            "node not found on PATH (synth needs it); run scripts/setup and use "
            "scripts/local-deploy, which puts .venv/bin first"
        )
    if importlib.util.find_spec("aws_cdk") is None:
        raise StartError(f"aws-cdk-lib is not installed for {sys.executable}; run scripts/setup")


@contextmanager
def single_instance(topology: str) -> Iterator[None]:
    """One local-deploy per topology and checkout: a second would print exports that
    point at a different emulator than the running consumers'."""
    root = hashlib.sha256(str(PROJECT_ROOT).encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"async-tasks-local-deploy-{root}-{topology}.lock"
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip() or "?"
            raise StartError(
                f"scripts/local-deploy {topology} is already running (pid {pid}); use its "
                "exports, or stop it with Ctrl-C first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """The first Ctrl-C (or SIGTERM) stops; further ones are ignored while stopping."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def _say(line: str) -> None:
    print(line, flush=True)


def run(args: argparse.Namespace, outdir: Path) -> int:
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        stack.enter_context(single_instance(args.topology))
        check_dependencies(args.topology)
        server = stack.enter_context(MotoServer(args.port))
        stack.enter_context(aws_environment(server.url))
        deployment = deploy(args.topology, server.url, outdir, dict(args.context))
        _say(report(deployment))
        if args.once:
            env = shell_environment(deployment, {})
            if env.pop(ENDPOINT_URL_ENV, None):
                _say(
                    f"({ENDPOINT_URL_ENV} is left out: it names the internal load balancer, "
                    "which moto does not forward to; without --once it points at the local "
                    "endpoint service)"
                )
            _say(exports(env, running=False))
            return 0
        consumers = consumers_for(deployment, _say, args.minute_seconds)
        stack.callback(consumers.stop)
        consumers.start()
        env = shell_environment(deployment, consumers.exports)
        _say(exports(env))
        os.environ.update(consumers.exports)
        for task in args.fire:
            for line in fire(task):
                _say(line)
        _say(
            f"ready in {time.monotonic() - started:.1f}s: {args.topology} is running against "
            f"the emulator at {server.url}; Ctrl-C to stop"
        )
        while True:
            consumers.tick()
            time.sleep(0.2)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with tempfile.TemporaryDirectory(prefix="local-cdk.out-") as scratch:
            return run(args, args.outdir or Path(scratch))
    except KeyboardInterrupt:
        # Ctrl-C at any point, even mid-deploy: everything above has been stopped.
        print("stopped", file=sys.stderr)
        return 0
    except (
        StartError,
        EmulatorError,
        SynthError,
        DeployError,
        TemplateError,
        ConsumerError,
        FireError,
        LookupError,
        ClientError,
        BotoCoreError,
    ) as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
        return 1


def one_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if isinstance(error, SynthError):
        # app.py's own last line says what is wrong (settings errors are one line).
        return f"{lines[0]} {lines[-1]}" if len(lines) > 1 else lines[0]
    return lines[0] if lines else type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
