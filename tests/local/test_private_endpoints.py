"""private-endpoints: the endpoint service on 127.0.0.1 stands in for the ALB's target.

moto creates the load balancer but forwards nothing, so the invoker's ENDPOINT_URL (the
ALB's DNS name, as deployed) is replaced by the local gunicorn's URL; the rest of the
function's environment is the deployed one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import boto3
import pytest

from local.entrypoints import patched_environ
from local.model import LocalDeployment
from local.runtime_env import container_environment
from runtime import invoker
from runtime.producer import Producer
from tests.local import helpers

pytestmark = pytest.mark.slow

LONDON = ZoneInfo("Europe/London")


def test_scheduled_report_reaches_the_endpoint_service_through_the_invoker_and_runs(
    deployed: Callable[[str], LocalDeployment],
) -> None:
    # GIVEN the stack, its endpoint service running with the task definition's environment
    deployment = deployed("private-endpoints")
    bucket = deployment.stack.outputs["UploadsBucketName"]
    endpoints_env = container_environment(deployment, "Endpoints")
    invoker_fn = deployment.stack.physical_id("EndpointsInvokerFunction6EAC86B4")
    deployed_invoker_env = boto3.client("lambda").get_function_configuration(
        FunctionName=invoker_fn
    )["Environment"]["Variables"]
    assert deployed_invoker_env["ENDPOINT_URL"].startswith("http://")
    schedule = deployment.template.resources["TriggersgeneratereportSchedule1ScheduleC47E5888"]
    scheduled_time = datetime.now(UTC).replace(microsecond=0)
    # Scheduler fills the context attributes into the schedule's input.
    envelope = json.loads(
        schedule.properties["Target"]["Input"]
        .replace("<aws.scheduler.execution-id>", "local-execution-1")
        .replace(
            "<aws.scheduler.scheduled-time>", scheduled_time.isoformat().replace("+00:00", "Z")
        )
    )
    day = (scheduled_time.astimezone(LONDON).date() - timedelta(days=1)).isoformat()
    prefix = f"reports/{day}_{day}/"

    with helpers.gunicorn_process("runtime.web.endpoints:app", endpoints_env) as url:
        # WHEN Scheduler invokes the invoker with the envelope
        with patched_environ({**deployed_invoker_env, "ENDPOINT_URL": url}):
            invocation = invoker.handler(envelope, None)

        # THEN the endpoint accepted it and the report for the previous London day exists
        assert (invocation["task"], invocation["status"]) == ("generate-report", 202)
        helpers.wait_until(
            lambda: len(helpers.object_keys(bucket, prefix)) == 2, 30, "the report objects"
        )


def test_web_app_producer_posts_to_the_endpoint_service_and_the_email_is_sent(
    deployed: Callable[[str], LocalDeployment],
) -> None:
    # GIVEN the endpoint service, and the web app's producer routed to it over HTTP
    deployment = deployed("private-endpoints")
    table = deployment.stack.outputs["TaskTableName"]
    endpoints_env = container_environment(deployment, "Endpoints")
    helpers.create_email_template()

    with helpers.gunicorn_process("runtime.web.endpoints:app", endpoints_env) as url:
        producer = Producer(environ={"ASYNC_TASKS_ENDPOINT_URL": url})
        # WHEN the web app enqueues a campaign
        producer.enqueue(
            "send-bulk-email",
            {"template": helpers.EMAIL_TEMPLATE, "recipients": ["bo@example.com"]},
            idempotency_key="local-endpoints",
        )

        # THEN the endpoint service ran it: the recipient is in the ledger as sent
        helpers.wait_until(
            lambda: any(
                item.get("status") == "sent"
                for item in helpers.query_items(table, "email#local-endpoints")
            ),
            30,
            "the campaign's ledger",
        )
