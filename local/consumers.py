"""Each topology's consumers, run against the emulator as AWS would run them.

- lambdas: ``python -m local.lambda_sqs`` polls each function's queue and invokes its
  handler with the function's deployed environment and batch size (the event source
  mappings, which moto cannot run);
- worker-service: ``python -m runtime.worker`` processes, as many as the service's
  scaling decides (local.scaling, stepping comparison.model.autoscaler), from zero;
- webapp-poller: the web app's gunicorn with the poller hooks;
- private-endpoints: the endpoint service's gunicorn; ``ASYNC_TASKS_ENDPOINT_URL``
  points at it instead of the internal load balancer (moto forwards no traffic).

Commands and environments come from the deployed task definitions and functions.
"""

from __future__ import annotations

import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import boto3

from local import lambda_sqs, scaling
from local.emulator import free_port
from local.entrypoints import invoke
from local.lambda_endpoint import LocalLambdaEndpoint
from local.model import LocalDeployment
from local.processes import Child, venv_executable
from local.runtime_env import container_environment, function_environment
from runtime.contract import ENDPOINT_URL_ENV, NUDGED_BY_KEY, WAKER_FUNCTION_ENV, ResourceRole
from runtime.contract.backlog import BACKLOG_PER_TASK
from runtime.contract.topology import ConsumerKind

Say = Callable[[str], None]


class ConsumerError(RuntimeError):
    """A consumer could not start or stopped on its own; one line."""


class Consumers:
    """Start, watch and stop one topology's consumers."""

    #: Extra exports for the user's shell (e.g. the local endpoint URL).
    exports: dict[str, str]

    def __init__(self, deployment: LocalDeployment, say: Say) -> None:
        self.deployment = deployment
        self.say = say
        self.exports = {}
        self.children: list[Child] = []

    def start(self) -> None:
        raise NotImplementedError

    def tick(self) -> None:
        """Called every fraction of a second: fail when a consumer died on its own."""
        for child in self.children:
            if not child.alive():
                raise ConsumerError(
                    f"{child.label} exited {child.process.returncode} on its own; its output "
                    "is above"
                )

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop(timeout=130)  # Fargate's stopTimeout is at most 120 s
        self.children = []

    def _command(self, prefix: str) -> tuple[list[str], dict[str, str]]:
        """The task definition's command and environment for its first container."""
        resource = next(
            r
            for r in self.deployment.stack.of_type("AWS::ECS::TaskDefinition")
            if r.logical_id.startswith(prefix)
        )
        definition = boto3.client("ecs").describe_task_definition(
            taskDefinition=resource.physical_id
        )
        command = list(definition["taskDefinition"]["containerDefinitions"][0]["command"])
        return command, container_environment(self.deployment, prefix)


def _gunicorn(command: list[str], port: int) -> list[str]:
    """The container's gunicorn command, on 127.0.0.1:port instead of 0.0.0.0:8000."""
    command = [venv_executable("gunicorn"), *command[1:]]
    bind = command.index("--bind")
    command[bind + 1] = f"127.0.0.1:{port}"
    return command


def _wait_healthy(child: Child, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise ConsumerError(f"{child.label} exited {child.process.returncode} at start-up")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise ConsumerError(f"{child.label} did not answer {url}/health within {timeout:.0f}s")


class LambdaConsumers(Consumers):
    def start(self) -> None:
        mappings = lambda_sqs.deployed_mappings(self.deployment)
        spec = Path(tempfile.mkdtemp(prefix="local-event-sources-")) / "mappings.json"
        lambda_sqs.write_spec(mappings, spec)
        self.children.append(
            Child("event-sources", [sys.executable, "-m", "local.lambda_sqs", str(spec)], {})
        )
        self.say(
            "running: the event source mappings (local.lambda_sqs) for "
            + ", ".join(m.task for m in mappings)
        )


class WebappPollerConsumers(Consumers):
    def start(self) -> None:
        command, env = self._command("WebApp")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        child = Child("webapp", _gunicorn(command, port), env)
        self.children.append(child)
        _wait_healthy(child, url)
        self.say(f"running: the web app with its poller (gunicorn) at {url}")


class PrivateEndpointsConsumers(Consumers):
    def start(self) -> None:
        command, env = self._command("Endpoints")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        # The endpoint service enqueues follow-on tasks through the load balancer too.
        env[ENDPOINT_URL_ENV] = url
        child = Child("endpoints", _gunicorn(command, port), env)
        self.children.append(child)
        _wait_healthy(child, url)
        self.exports[ENDPOINT_URL_ENV] = url
        self.say(
            f"running: the endpoint service (gunicorn) at {url}; {ENDPOINT_URL_ENV} points "
            "there instead of the internal load balancer, which moto does not forward to"
        )


class WorkerServiceConsumers(Consumers):
    """Worker processes, as many as the service's desired count on the emulator's ECS.

    local.scaling decides once per simulated minute, as Application Auto Scaling would;
    the waker (when deployed) sets the count from 0 to 1 whenever the producer or a
    trigger nudges it, through Lambda's Invoke API served by local.lambda_endpoint.
    The processes follow the count ECS holds, read every tick, whoever set it.
    """

    def __init__(self, deployment: LocalDeployment, say: Say, minute_seconds: float) -> None:
        super().__init__(deployment, say)
        self.minute_seconds = minute_seconds
        self.desired = 0
        self.stopping: list[Child] = []
        self.lambda_endpoint: LocalLambdaEndpoint | None = None

    def start(self) -> None:
        params = scaling.worker_scaling(self.deployment.template_path)
        metric_fn = next(
            r.logical_id
            for r in self.deployment.stack.of_type("AWS::Lambda::Function")
            if r.logical_id.startswith("WorkersBacklogMetric")
        )
        target = scaling.MetricTarget.from_env(function_environment(self.deployment, metric_fn))
        self.autoscaler = scaling.LocalAutoscaler(params, target)
        self.service = target
        command, self.env = self._command("Workers")
        # A short long-poll, so a scale-in or Ctrl-C drains in seconds, not 20.
        self.command = [sys.executable, *command[1:], "--wait-seconds", "2"]
        self.next_decision = time.monotonic()
        self._serve_waker()
        self.say(
            f"running: the worker service, desired {self.autoscaler.desired}, scaled "
            f"{params.min_capacity}..{params.max_capacity} by the backlog metric function "
            f"and the template's policies (target {params.target:g} {BACKLOG_PER_TASK}, "
            f"wake-up alarm), one decision per simulated minute = {self.minute_seconds:g}s"
        )
        if self.autoscaler.desired:  # a MinCapacity above 0
            self._scale_to(self.autoscaler.desired)

    def _serve_waker(self) -> None:
        """Serve Invoke for the waker, and export where to reach it and its name (the
        web app's ``ASYNC_TASKS_WAKER_FUNCTION``, as its task definition sets it)."""
        wakers = self.deployment.template.with_role(ResourceRole.WAKER)
        if not wakers:
            return
        (waker,) = wakers
        env = function_environment(self.deployment, waker.logical_id)
        name = self.deployment.stack.physical_id(waker.logical_id)
        config = boto3.client("lambda").get_function_configuration(FunctionName=name)

        def wake_service(event: Mapping[str, Any]) -> Any:
            # The template's Handler with the deployed environment, as Lambda runs it.
            result = invoke(config["Handler"], event, env)
            if isinstance(result, Mapping) and result.get("woken"):
                nudged_by = event.get(NUDGED_BY_KEY) or "the producer"
                self.say(f"waker: nudged ({nudged_by}): desired 0 -> 1")
            return result

        arn = config["FunctionArn"]
        self.lambda_endpoint = LocalLambdaEndpoint(
            {name: wake_service, arn: wake_service}, self.say
        )
        self.lambda_endpoint.start()
        web_app = container_environment(self.deployment, "WebApp")
        self.exports["AWS_ENDPOINT_URL_LAMBDA"] = self.lambda_endpoint.url
        self.exports[WAKER_FUNCTION_ENV] = web_app[WAKER_FUNCTION_ENV]
        self.say(
            f"running: the waker ({waker.logical_id}) behind Lambda's Invoke API at "
            f"{self.lambda_endpoint.url}; the producer nudges it after every send"
        )

    def tick(self) -> None:
        super().tick()
        self.stopping = [c for c in self.stopping if c.alive()]
        held = self._ecs_desired()
        if held != self.desired:
            # Set outside Auto Scaling: the waker, or an UpdateService of someone's.
            self.autoscaler.follow(held)
            self._apply(held)
        if time.monotonic() < self.next_decision:
            return
        self.next_decision += self.minute_seconds
        running = len(self.children)
        desired, why = self.autoscaler.decide(running, 0)
        if not why:
            return
        self.say(f"scaling: {why}")
        self._scale_to(desired)

    def _ecs_desired(self) -> int:
        (service,) = boto3.client("ecs").describe_services(
            cluster=self.service.cluster_name, services=[self.service.service_name]
        )["services"]
        return int(service["desiredCount"])

    def _scale_to(self, desired: int) -> None:
        boto3.client("ecs").update_service(
            cluster=self.service.cluster_name,
            service=self.service.service_name,
            desiredCount=desired,
        )
        self._apply(desired)

    def _apply(self, desired: int) -> None:
        """Start or stop worker processes to match ``desired``."""
        self.desired = desired
        while len(self.children) < desired:
            n = len(self.children) + 1
            self.children.append(Child(f"worker-{n}", self.command, self.env))
        while len(self.children) > desired:
            child = self.children.pop()
            child.signal()  # SIGTERM: the worker drains and exits
            self.stopping.append(child)

    def stop(self) -> None:
        if self.lambda_endpoint is not None:
            self.lambda_endpoint.stop()
            self.lambda_endpoint = None
        self.children += self.stopping
        self.stopping = []
        super().stop()


def consumers_for(deployment: LocalDeployment, say: Say, minute_seconds: float) -> Consumers:
    """The consumers of the kind the deployed template is stamped with."""
    kind = deployment.template.kind
    if kind is ConsumerKind.WORKER:
        return WorkerServiceConsumers(deployment, say, minute_seconds)
    classes: dict[ConsumerKind | None, type[Consumers]] = {
        ConsumerKind.LAMBDA: LambdaConsumers,
        ConsumerKind.WEBAPP: WebappPollerConsumers,
        ConsumerKind.ENDPOINT: PrivateEndpointsConsumers,
    }
    if kind not in classes:
        raise ConsumerError(
            f"{deployment.template_path} carries no topology stamp; synthesize it again"
        )
    return classes[kind](deployment, say)
