"""A forged scan result has no effect in any topology, through the web app's route or
its credentials.

The threat: the web app (or a user driving it) sends a GuardDuty-shaped
``NO_THREATS_FOUND`` for an infected upload, which would mark it clean and load it.
Each topology is deployed into moto; the upload is tagged ``THREATS_FOUND`` as GuardDuty
tags it ("Monitoring S3 object scans with GuardDuty managed tags"); then:
- the route: ``POST /tasks/virus-scan-result`` on the stand-in web app is refused;
- the credentials: the envelope goes straight onto the queue the web app may send to
  (shared-queue topologies), or onto the scan queue in ``lambdas``, where the web app's
  role has no right to send (tests/stacks/test_deployability.py) and moto does not
  enforce IAM, so the runtime's own check is exercised anyway; in private-endpoints,
  straight to the endpoint service.
Either way the consumer runs and nothing changes: no clean status, nothing loaded, and
the envelope is dead-lettered with the mismatch as its reason.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable

import boto3
import pytest

from local import lambda_sqs
from local.model import LocalDeployment
from local.runtime_env import container_environment, lambda_environments, producer_environment
from runtime.envelope import encode, new_envelope
from runtime.producer import queue_url_env_for
from tests.local import helpers

pytestmark = pytest.mark.slow

TASK = "virus-scan-result"
# Not helpers.PROPERTY_KEY: the end-to-end tests load that one into the same stacks.
FORGED_KEY = "uploads/properties/forged.csv"


def _property_records(table: str) -> list[str]:
    """The loaded property rows' keys (the stacks are shared with other tests)."""
    scan = boto3.resource("dynamodb").Table(table).scan()
    return sorted(str(i["pk"]) for i in scan["Items"] if str(i["pk"]).startswith("property#"))


def _infected_upload(bucket: str) -> str:
    return helpers.scanned_upload(bucket, FORGED_KEY, b"X5O!P%@AP EICAR", "THREATS_FOUND")


def _post(url: str, body: str) -> int:
    request = urllib.request.Request(
        f"{url}/tasks/{TASK}",
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _assert_no_effect(
    table: str, version: str, dlq_url: str, envelope_id: str, loaded_before: list[str]
) -> None:
    upload = helpers.table_item(table, f"upload#{FORGED_KEY}", f"version#{version}")
    assert upload is None or upload.get("status") != "clean", upload
    assert _property_records(table) == loaded_before
    messages = (
        boto3.client("sqs")
        .receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        .get("Messages", [])
    )
    dead = {json.loads(m["Body"])["id"]: m for m in messages}
    assert envelope_id in dead, sorted(dead)
    reason = json.dumps(dead[envelope_id].get("MessageAttributes", {}))
    assert "forged or stale" in reason, reason


@pytest.mark.parametrize("topology", ["worker-service", "webapp-poller"])
def test_forged_scan_result_has_no_effect_in_shared_queue_topologies(
    deployed: Callable[[str], LocalDeployment], topology: str
) -> None:
    deployment = deployed(topology)
    stack = deployment.stack
    table, bucket = stack.outputs["TaskTableName"], stack.outputs["UploadsBucketName"]
    webapp_env = {**container_environment(deployment, "WebApp"), **producer_environment(deployment)}
    consumer_env = container_environment(
        deployment, "Workers" if topology == "worker-service" else "WebApp"
    )
    queue_url = consumer_env["ASYNC_TASKS_QUEUE_URL"]
    loaded_before = _property_records(table)
    version = _infected_upload(bucket)
    forged = helpers.scan_result_event(bucket, FORGED_KEY, version)
    envelope = new_envelope(TASK, forged)

    polls = topology == "webapp-poller"  # the web app itself consumes the queue
    with helpers.gunicorn_process("runtime.web.webapp:app", webapp_env, with_poller=polls) as url:
        # the web app's route refuses an event-only task
        status = _post(url, json.dumps(forged))
        assert 400 <= status < 500, status
        # the web app's credentials may send to the shared queue: the consumer refuses it
        boto3.client("sqs").send_message(QueueUrl=queue_url, MessageBody=encode(envelope))
        with contextlib.ExitStack() as consumers:
            if not polls:
                consumers.enter_context(helpers.worker_process(queue_url, consumer_env))
            helpers.wait_until(
                lambda: helpers.queue_depth(queue_url) == 0, 60, "the queue to empty"
            )
    _assert_no_effect(
        table, version, stack.outputs["TaskDeadLetterQueueUrl"], envelope["id"], loaded_before
    )


def test_forged_scan_result_has_no_effect_in_lambdas(
    deployed: Callable[[str], LocalDeployment],
) -> None:
    deployment = deployed("lambdas")
    stack = deployment.stack
    table, bucket = stack.outputs["TaskTableName"], stack.outputs["UploadsBucketName"]
    functions = lambda_environments(deployment)
    queue_url = producer_environment(deployment)[queue_url_env_for(TASK)]
    loaded_before = _property_records(table)
    version = _infected_upload(bucket)
    envelope = new_envelope(TASK, helpers.scan_result_event(bucket, FORGED_KEY, version))

    boto3.client("sqs").send_message(QueueUrl=queue_url, MessageBody=encode(envelope))
    while lambda_sqs.drain(queue_url, functions[TASK]):
        pass
    _assert_no_effect(
        table, version, functions[TASK]["ASYNC_TASKS_DLQ_URL"], envelope["id"], loaded_before
    )


def test_forged_scan_result_posted_to_the_endpoint_service_has_no_effect(
    deployed: Callable[[str], LocalDeployment],
) -> None:
    deployment = deployed("private-endpoints")
    stack = deployment.stack
    table, bucket = stack.outputs["TaskTableName"], stack.outputs["UploadsBucketName"]
    endpoints_env = container_environment(deployment, "Endpoints")
    loaded_before = _property_records(table)
    version = _infected_upload(bucket)
    envelope = new_envelope(TASK, helpers.scan_result_event(bucket, FORGED_KEY, version))

    # a genuine result for another, clean upload: proof that the endpoint runs the handler
    clean_key = "uploads/properties/clean.csv"
    clean = helpers.scanned_upload(bucket, clean_key, b"uprn\n", "NO_THREATS_FOUND")
    genuine = new_envelope(TASK, helpers.scan_result_event(bucket, clean_key, clean))

    with helpers.gunicorn_process("runtime.web.endpoints:app", endpoints_env) as url:
        # the endpoint accepts both envelopes (202) and runs them in-process
        assert _post(url, encode(envelope)) == 202
        assert _post(url, encode(genuine)) == 202
        helpers.wait_until(
            lambda: (
                (helpers.table_item(table, f"upload#{clean_key}", f"version#{clean}") or {}).get(
                    "status"
                )
                == "clean"
            ),
            30,
            "the genuine result to mark its upload clean",
        )
    # the SIGTERM above drains the runner, so the forged one has been judged too
    upload = helpers.table_item(table, f"upload#{FORGED_KEY}", f"version#{version}")
    assert upload is None or upload.get("status") != "clean", upload
    assert _property_records(table) == loaded_before
