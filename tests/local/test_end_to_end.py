"""Each queue topology, deployed into moto, runs every task type with the real runtime."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from local import lambda_sqs
from local.deploy import deploy
from local.emulator import MotoServer, aws_env
from local.model import LocalDeployment
from local.runtime_env import container_environment, lambda_environments, producer_environment
from local.synth import local_context, synthesize_with
from runtime.catalogue import CATALOGUE
from runtime.producer import queue_url_env_for
from tests.local import e2e, helpers

pytestmark = pytest.mark.slow


def test_scenario_covers_every_task_type_in_the_catalogue() -> None:
    # A new task type must join the end-to-end scenario (tests/local/e2e.py).
    assert set(CATALOGUE) == e2e.COVERED_TASKS


def test_lambdas_topology_runs_every_task_type_and_dead_letters_a_poison_message(
    deployed: Callable[[str], LocalDeployment],
) -> None:
    # GIVEN the lambdas stack, and each function's environment as the stack set it
    deployment = deployed("lambdas")
    stack = deployment.stack
    functions = lambda_environments(deployment)
    producer_env = producer_environment(deployment)
    queues = {task: producer_env[queue_url_env_for(task)] for task in functions}

    def settle() -> None:
        # Each task's event source mapping, until a full pass finds every queue empty.
        while sum(lambda_sqs.drain(queues[task], env) for task, env in functions.items()):
            pass

    # WHEN every task type is enqueued through the producer and the handlers run (the
    # CSV uploaded and its load enqueued as the web app does: nothing marks it clean)
    # THEN the side effects are in the deployed table and bucket, the poison in its DLQ
    e2e.run_every_task_type(
        producer_env,
        table=stack.outputs["TaskTableName"],
        bucket=stack.outputs["UploadsBucketName"],
        dlq_urls=sorted({env["ASYNC_TASKS_DLQ_URL"] for env in functions.values()}),
        settle=settle,
    )


@pytest.mark.parametrize("topology", ["worker-service"])
def test_queue_worker_topology_runs_every_task_type_and_dead_letters_a_poison_message(
    deployed: Callable[[str], LocalDeployment], topology: str
) -> None:
    # GIVEN the stack, the worker's container environment and the web app's producer one
    deployment = deployed(topology)
    stack = deployment.stack
    worker_env = container_environment(deployment, "Workers")
    producer_env = {
        **container_environment(deployment, "WebApp"),
        **producer_environment(deployment),
    }
    queue_url = worker_env["ASYNC_TASKS_QUEUE_URL"]

    with helpers.worker_process(queue_url, worker_env):
        # WHEN every task type is enqueued and the worker consumes the deployed queue
        # THEN the side effects are in the deployed table and bucket, the poison in the DLQ
        e2e.run_every_task_type(
            producer_env,
            table=stack.outputs["TaskTableName"],
            bucket=stack.outputs["UploadsBucketName"],
            dlq_urls=[stack.outputs["TaskDeadLetterQueueUrl"]],
            settle=lambda: helpers.wait_until(
                lambda: helpers.queue_depth(queue_url) == 0, 60, "the worker to empty the queue"
            ),
        )


def test_webapp_poller_topology_runs_every_task_type_under_the_web_apps_gunicorn(
    deployed: Callable[[str], LocalDeployment],
) -> None:
    # GIVEN the stack and the web app container's environment (it both produces and polls)
    deployment = deployed("webapp-poller")
    stack = deployment.stack
    webapp_env = container_environment(deployment, "WebApp")
    queue_url = webapp_env["ASYNC_TASKS_QUEUE_URL"]

    with helpers.gunicorn_process("runtime.web.webapp:app", webapp_env, with_poller=True):
        # WHEN every task type is enqueued and the web app's poller consumes the queue
        # THEN the side effects are in the deployed table and bucket, the poison in the DLQ
        e2e.run_every_task_type(
            webapp_env,
            table=stack.outputs["TaskTableName"],
            bucket=stack.outputs["UploadsBucketName"],
            dlq_urls=[stack.outputs["TaskDeadLetterQueueUrl"]],
            settle=lambda: helpers.wait_until(
                lambda: helpers.queue_depth(queue_url) == 0, 60, "the poller to empty the queue"
            ),
        )


@pytest.fixture
def own_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    """A server of its own: the same stack name as the shared one, another configuration."""
    with MotoServer() as server:
        for name, value in aws_env(server.url).items():
            monkeypatch.setenv(name, value)
        yield server


def test_lambdas_with_malware_protection_loads_through_guardduty_tag_and_event(
    own_emulator: MotoServer, tmp_path: Path
) -> None:
    # GIVEN the lambdas stack with malwareProtection on (only GuardDuty-clean uploads
    # load: ASYNC_TASKS_UPLOAD_SCANNING=guardduty in every function)
    assembly = synthesize_with({**local_context("lambdas"), "malwareProtection": "true"}, tmp_path)
    deployment = deploy("lambdas", own_emulator.url, assembly)
    stack = deployment.stack
    functions = lambda_environments(deployment)
    assert {env["ASYNC_TASKS_UPLOAD_SCANNING"] for env in functions.values()} == {"guardduty"}
    producer_env = producer_environment(deployment)
    queues = {task: producer_env[queue_url_env_for(task)] for task in functions}

    def settle() -> None:
        while sum(lambda_sqs.drain(queues[task], env) for task, env in functions.items()):
            pass

    # WHEN the upload is tagged and its scan result delivered as GuardDuty does
    # THEN virus-scan-result queues the load and every task type runs
    e2e.run_every_task_type(
        producer_env,
        table=stack.outputs["TaskTableName"],
        bucket=stack.outputs["UploadsBucketName"],
        dlq_urls=sorted({env["ASYNC_TASKS_DLQ_URL"] for env in functions.values()}),
        settle=settle,
        malware_protection=True,
    )
