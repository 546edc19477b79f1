"""The stand-in web app: POST /tasks/<task> enqueues to a real SQS endpoint (moto server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from runtime.envelope import MAX_BODY_BYTES, decode
from runtime.producer import Producer
from runtime.web.webapp import create_app
from tests.runtime.helpers import REPO, QueuePair, RecordingServer, receive_all

CLOSED_PORT_URL = "http://127.0.0.1:9"  # discard: nothing listens there


def answer(response: TestResponse) -> dict[str, Any]:
    """The JSON object of an answer; every answer of these apps is one."""
    body = response.get_json()
    assert isinstance(body, dict), response.data
    return body


@pytest.fixture
def client(sqs: Any) -> FlaskClient:
    return create_app(Producer(sqs=sqs)).test_client()


@pytest.fixture
def shared_queue(make_queue: Callable[..., QueuePair], monkeypatch: pytest.MonkeyPatch) -> str:
    url = make_queue().url
    monkeypatch.setenv("ASYNC_TASKS_QUEUE_URL", url)
    return url


def test_posted_task_is_enqueued_with_its_payload_and_idempotency_key(
    client: FlaskClient, sqs: Any, shared_queue: str
) -> None:
    response = client.post(
        "/tasks/generate-report", json={"period": "2026-11"}, headers={"Idempotency-Key": "r-1"}
    )
    assert response.status_code == 202
    (message,) = receive_all(sqs, shared_queue)
    envelope = decode(message["Body"])
    assert response.json == {"id": envelope["id"], "task": "generate-report"}
    assert (envelope["task"], envelope["payload"], envelope["idempotency_key"]) == (
        "generate-report",
        {"period": "2026-11"},
        "r-1",
    )


def test_without_the_header_the_envelope_has_no_idempotency_key(
    client: FlaskClient, sqs: Any, shared_queue: str
) -> None:
    assert client.post("/tasks/generate-report", json={"period": "d"}).status_code == 202
    (message,) = receive_all(sqs, shared_queue)
    assert "idempotency_key" not in decode(message["Body"])


def test_per_task_queue_variable_takes_its_task_off_the_shared_queue(
    client: FlaskClient,
    sqs: Any,
    shared_queue: str,
    make_queue: Callable[..., QueuePair],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    own = make_queue().url
    monkeypatch.setenv("ASYNC_TASKS_QUEUE_URL_GENERATE_REPORT", own)
    client.post("/tasks/generate-report", json={"period": "d"})
    client.post("/tasks/send-bulk-email", json={"template": "t", "recipients_list": "r"})
    assert [decode(m["Body"])["task"] for m in receive_all(sqs, own)] == ["generate-report"]
    assert [decode(m["Body"])["task"] for m in receive_all(sqs, shared_queue)] == [
        "send-bulk-email"
    ]


def test_endpoint_variable_posts_the_envelope_to_the_private_endpoints(
    aws_env: dict[str, str], recording_server: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASYNC_TASKS_ENDPOINT_URL", recording_server.url)
    response = create_app().test_client().post("/tasks/generate-report", json={"period": "d"})
    assert response.status_code == 202
    (request,) = recording_server.requests
    assert (request.path, request.body["id"]) == ("/tasks/generate-report", answer(response)["id"])


def test_unknown_task_is_404_naming_the_known_tasks(
    client: FlaskClient, sqs: Any, shared_queue: str
) -> None:
    response = client.post("/tasks/no-such-task", json={})
    assert response.status_code == 404
    assert "no-such-task" in answer(response)["error"]
    assert "generate-report" in answer(response)["known_tasks"]
    assert receive_all(sqs, shared_queue) == []


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b""])
def test_body_that_is_not_a_json_object_is_400_and_nothing_is_sent(
    client: FlaskClient, sqs: Any, shared_queue: str, body: bytes
) -> None:
    response = client.post(
        "/tasks/generate-report", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "JSON object" in answer(response)["error"]
    assert receive_all(sqs, shared_queue) == []


def test_empty_idempotency_key_is_400_with_the_reason(
    client: FlaskClient, shared_queue: str
) -> None:
    response = client.post(
        "/tasks/generate-report", json={"period": "d"}, headers={"Idempotency-Key": ""}
    )
    assert response.status_code == 400
    assert "idempotency_key" in answer(response)["error"]


@pytest.mark.parametrize(
    "filler",
    [MAX_BODY_BYTES - 100, MAX_BODY_BYTES + 1],
    ids=["envelope-over-the-limit", "body-over-the-limit"],
)
def test_payload_too_large_for_an_envelope_is_413_and_nothing_is_sent(
    client: FlaskClient, sqs: Any, shared_queue: str, filler: int
) -> None:
    response = client.post("/tasks/generate-report", json={"period": "x" * filler})
    assert response.status_code == 413
    assert answer(response)["error"]
    assert receive_all(sqs, shared_queue) == []


def test_unreachable_queue_is_503_with_a_json_error_and_no_traceback(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASYNC_TASKS_QUEUE_URL", f"{CLOSED_PORT_URL}/123456789012/q")
    unreachable = boto3.client(
        "sqs",
        endpoint_url=CLOSED_PORT_URL,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1),
    )
    client = create_app(Producer(sqs=unreachable)).test_client()
    response = client.post("/tasks/generate-report", json={"period": "d"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "retry later" in answer(response)["error"]
    assert "Traceback" not in response.get_data(as_text=True)


def test_missing_route_is_500_naming_the_variables_to_set(client: FlaskClient) -> None:
    response = client.post("/tasks/generate-report", json={"period": "d"})
    assert response.status_code == 500
    assert "ASYNC_TASKS_QUEUE_URL" in answer(response)["error"]


def test_unknown_path_and_wrong_method_answer_json_errors(client: FlaskClient) -> None:
    missing = client.get("/nowhere")
    assert (missing.status_code, bool(answer(missing)["error"])) == (404, True)
    response = client.get("/tasks/generate-report")
    assert response.status_code == 405
    assert answer(response)["error"]


def test_health_answers_ok_without_calling_aws() -> None:
    class NoAws:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"/health called SQS {name}")

    response = create_app(Producer(sqs=NoAws())).test_client().get("/health")
    assert (response.status_code, response.json) == (200, {"status": "ok"})


def test_importing_the_apps_needs_neither_aws_nor_routing() -> None:
    # GIVEN an environment with no routing, no credentials and AWS unreachable
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ASYNC_TASKS_", "AWS_"))
    }
    env.update(AWS_ENDPOINT_URL=CLOSED_PORT_URL, PYTHONPATH=str(REPO))
    script = (
        "import json, runtime.web.endpoints\n"
        "from runtime.web.webapp import app\n"
        "r = app.test_client().get('/health')\n"
        "print(json.dumps([r.status_code, r.json]))\n"
    )
    # WHEN both modules are imported and the web app's health is checked
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # THEN it works
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [200, {"status": "ok"}]


def test_an_event_only_task_is_403_with_the_reason_and_nothing_is_sent(
    client: FlaskClient, sqs: Any, shared_queue: str
) -> None:
    response = client.post("/tasks/virus-scan-result", json={"bucket": "b", "key": "k"})
    assert response.status_code == 403
    assert "only trigger is the AWS event" in answer(response)["error"]
    assert receive_all(sqs, shared_queue) == []
