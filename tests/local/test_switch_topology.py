"""The README's switch from webapp-poller to worker-service keeps every queued task."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from comparison.inputs.templates import read_template
from local import switch
from local.cloudformation import delete_stack
from local.deploy import deploy
from local.emulator import MotoServer, aws_env
from local.runtime_env import container_environment
from runtime.contract import EMAIL_MAX_PER_SECOND_ENV
from runtime.producer import Producer
from tests.local import helpers

pytestmark = pytest.mark.slow

TASKS = 100


@pytest.fixture
def own_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    """A server of its own: this test deletes a stack and counts every email sent."""
    with MotoServer() as server:
        for name, value in aws_env(server.url).items():
            monkeypatch.setenv(name, value)
        yield server


def test_switching_webapp_poller_to_worker_service_processes_each_queued_task_once(
    own_emulator: MotoServer, cloud_assembly: Path
) -> None:
    # GIVEN webapp-poller deployed and 100 tasks queued with no consumer running
    old = deploy("webapp-poller", own_emulator.url, cloud_assembly)
    retained = {
        logical_id: old.stack.physical_id(logical_id) for logical_id in switch.SHARED_LOGICAL_IDS
    }
    helpers.create_email_template()
    producer = Producer(environ=container_environment(old, "WebApp"))
    campaigns = [f"switch-{n:03d}" for n in range(TASKS)]
    for campaign in campaigns:
        producer.enqueue(
            "send-bulk-email",
            {"template": helpers.EMAIL_TEMPLATE, "recipients": [f"{campaign}@example.com"]},
            idempotency_key=campaign,
        )
    queue_url = retained["TaskQueue1EF2D3F6"]
    assert helpers.queue_depth(queue_url) == TASKS

    # WHEN the old stack is deleted: the shared resources are retained, with the messages
    for note in delete_stack(old.stack.name):
        print(f"\n{note}")
    assert helpers.queue_depth(queue_url) == TASKS
    boto3.client("dynamodb").describe_table(TableName=retained["DataTaskTable140D4802"])
    boto3.client("s3").head_bucket(Bucket=retained["DataUploadsBucketF0C3B642"])

    # AND they are imported into worker-service. Both templates declare them alike, so
    # an import is possible; moto's answer to the import is printed, and its effect is
    # emulated: the new stack's worker is pointed at the retained resources.
    new_template = cloud_assembly / "AsyncTasks-WorkerService.template.json"
    old_resources = old.template.document["Resources"]
    new_resources = read_template(new_template).document["Resources"]
    for logical_id in switch.SHARED_LOGICAL_IDS:
        assert old_resources[logical_id] == new_resources[logical_id], logical_id
    mapping = switch.resource_mapping(new_template, retained)
    answer = switch.try_import("AsyncTasks-WorkerService", new_template, mapping)
    print(f"\nmoto and cdk import: {answer}")
    new = deploy("worker-service", own_emulator.url, cloud_assembly)
    created = {logical_id: new.stack.physical_id(logical_id) for logical_id in retained}
    worker_env = switch.adopt(container_environment(new, "Workers"), created, retained)
    assert worker_env["ASYNC_TASKS_QUEUE_URL"] == queue_url
    # moto's SES answers GetSendQuota with the sandbox's 1 a second, which would pace 100
    # emails past the wait below; the switch, not the account's rate, is under test here.
    worker_env[EMAIL_MAX_PER_SECOND_ENV] = "100"

    with helpers.worker_process(queue_url, worker_env):
        helpers.wait_until(lambda: helpers.queue_depth(queue_url) == 0, 90, "the queued tasks")

    # THEN each task ran exactly once: one email per campaign, none dead-lettered
    table = retained["DataTaskTable140D4802"]
    sent = [
        item
        for campaign in campaigns
        for item in helpers.query_items(table, f"email#{campaign}")
        if item["sk"].startswith("recipient#") and item["status"] == "sent"
    ]
    assert len(sent) == TASKS
    assert boto3.client("ses").get_send_quota()["SentLast24Hours"] == TASKS
    assert helpers.queue_depth(retained["TaskQueueDeadLetterQueueD66B0604"]) == 0
