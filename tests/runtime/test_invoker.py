"""The HTTP invoker Lambda against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from runtime.errors import ConfigurationError, InvalidEnvelopeError
from runtime.invoker import (
    EndpointRejectedError,
    EndpointUnavailableError,
    InvokerSettings,
    handler,
)
from tests.runtime.helpers import load_event

HANG = -1  # the status that makes the server wait instead of answering


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Endpoint:
    """A local stand-in for the private endpoint service."""

    url: str
    requests: list[Request] = field(default_factory=list)
    status: int = 202
    release: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    endpoint: Endpoint

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        endpoint = self.server.endpoint  # type: ignore[attr-defined]
        endpoint.requests.append(
            Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        if endpoint.status == HANG:
            endpoint.release.wait(10)
            return
        self.send_response(endpoint.status)
        if endpoint.status in (301, 307):
            self.send_header("Location", "/elsewhere")
        reply = b'{"accepted": true}' if endpoint.status < 300 else b'{"error": "no such task"}'
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[Endpoint]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    stand_in = Endpoint(url=f"http://127.0.0.1:{server.server_port}")
    server.endpoint = stand_in  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    monkeypatch.setenv("ENDPOINT_URL", stand_in.url)
    monkeypatch.delenv("INVOKER_TIMEOUT_SECONDS", raising=False)
    yield stand_in
    stand_in.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def envelope() -> dict[str, Any]:
    """What Scheduler sends for the generate-report schedule."""
    return load_event("scheduler_generate_report.json")


def test_posts_the_envelope_to_its_task_path(endpoint: Endpoint, envelope: dict[str, Any]) -> None:
    result = handler(envelope, None)

    (request,) = endpoint.requests
    assert request.method == "POST"
    assert request.path == "/tasks/generate-report"
    assert json.loads(request.body) == envelope
    assert request.headers["content-type"] == "application/json"
    assert request.headers["content-length"] == str(len(request.body))
    assert result == {
        "task": "generate-report",
        "id": envelope["id"],
        "url": f"{endpoint.url}/tasks/generate-report",
        "status": 202,
    }


def test_event_rule_envelope_is_delivered_with_the_event_as_payload(endpoint: Endpoint) -> None:
    event = load_event("eventbridge_virus_scan_result.json")

    handler(event, None)

    (request,) = endpoint.requests
    assert request.path == "/tasks/virus-scan-result"
    assert json.loads(request.body)["payload"]["source"] == "aws.guardduty"


def test_trailing_slash_on_endpoint_url_is_ignored(
    endpoint: Endpoint, envelope: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENDPOINT_URL", endpoint.url + "/")

    handler(envelope, None)

    assert endpoint.requests[0].path == "/tasks/generate-report"


@pytest.mark.parametrize("status", [500, 404, 400, 503])
def test_non_2xx_answer_raises_rejected_with_status(
    endpoint: Endpoint, envelope: dict[str, Any], status: int
) -> None:
    endpoint.status = status

    with pytest.raises(EndpointRejectedError, match=f"HTTP {status}") as caught:
        handler(envelope, None)

    assert caught.value.status == status
    assert len(endpoint.requests) == 1


def test_rejection_message_carries_the_endpoint_reason(
    endpoint: Endpoint, envelope: dict[str, Any]
) -> None:
    endpoint.status = 404

    with pytest.raises(EndpointRejectedError, match=r"no such task"):
        handler(envelope, None)


@pytest.mark.parametrize("status", [301, 307])
def test_redirect_is_refused_not_followed(
    endpoint: Endpoint, envelope: dict[str, Any], status: int
) -> None:
    endpoint.status = status

    with pytest.raises(EndpointRejectedError, match=f"HTTP {status}"):
        handler(envelope, None)

    assert [r.path for r in endpoint.requests] == ["/tasks/generate-report"]


def test_refused_connection_raises_unavailable(
    envelope: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    monkeypatch.setenv("ENDPOINT_URL", f"http://127.0.0.1:{closed_port}")

    with pytest.raises(EndpointUnavailableError, match=r"endpoint unavailable for task"):
        handler(envelope, None)


def test_hanging_endpoint_raises_unavailable_after_the_timeout(
    endpoint: Endpoint, envelope: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint.status = HANG
    monkeypatch.setenv("INVOKER_TIMEOUT_SECONDS", "0.3")

    with pytest.raises(EndpointUnavailableError, match=r"timed out"):
        handler(envelope, None)

    assert len(endpoint.requests) == 1


MISSING = object()  # a change that removes the field


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        pytest.param({"task": MISSING}, "'task' must be a string, got nothing", id="no-task"),
        pytest.param({"id": MISSING}, "'id' must be a non-empty string", id="no-id"),
        pytest.param({"task": 7}, "'task' must be a string, got int", id="task-int"),
        pytest.param({"id": ""}, "'id' must be a non-empty string", id="empty-id"),
        pytest.param({"id": 42}, "'id' must be a non-empty string, got int", id="id-int"),
        pytest.param({"task": "../admin"}, "kebab-case", id="path-traversal"),
        pytest.param({"task": "a/b?c=d"}, "kebab-case", id="url-characters"),
        pytest.param({"task": "Generate Report"}, "kebab-case", id="space-and-capitals"),
        pytest.param({"task": "x" * 41}, "at most 40", id="too-long"),
        pytest.param({"task": "generate-report\n"}, "kebab-case", id="trailing-newline"),
        pytest.param({"version": True}, "'version' must be an integer, got bool", id="bool"),
        pytest.param({"payload": []}, "'payload' must be an object, got list", id="payload"),
    ],
)
def test_event_that_is_not_an_envelope_raises_before_any_request(
    endpoint: Endpoint, envelope: dict[str, Any], changes: dict[str, Any], reason: str
) -> None:
    event = {**envelope, **changes}
    event = {key: value for key, value in event.items() if value is not MISSING}

    with pytest.raises(InvalidEnvelopeError, match=reason):
        handler(event, None)

    assert endpoint.requests == []


def test_event_that_is_not_an_object_raises(endpoint: Endpoint) -> None:
    with pytest.raises(InvalidEnvelopeError, match=r"must be a task envelope .* got list"):
        handler(["generate-report"], None)

    assert endpoint.requests == []


def test_envelope_error_lists_every_problem(endpoint: Endpoint) -> None:
    with pytest.raises(InvalidEnvelopeError) as caught:
        handler({"task": "generate-report"}, None)

    message = str(caught.value)
    for field_name in ("'id'", "'version'", "'created_at'", "'payload'"):
        assert field_name in message


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        pytest.param({}, "ENDPOINT_URL must be an http", id="missing-url"),
        pytest.param({"ENDPOINT_URL": "file:///etc/passwd"}, "ENDPOINT_URL", id="file-url"),
        pytest.param({"ENDPOINT_URL": "internal-alb"}, "ENDPOINT_URL", id="no-scheme"),
        pytest.param(
            {"ENDPOINT_URL": "http://alb", "INVOKER_TIMEOUT_SECONDS": "soon"},
            "INVOKER_TIMEOUT_SECONDS must be a positive number of seconds, got 'soon'",
            id="timeout-text",
        ),
        pytest.param(
            {"ENDPOINT_URL": "http://alb", "INVOKER_TIMEOUT_SECONDS": "0"},
            "INVOKER_TIMEOUT_SECONDS",
            id="timeout-zero",
        ),
    ],
)
def test_bad_settings_raise_configuration_error(env: dict[str, str], reason: str) -> None:
    with pytest.raises(ConfigurationError, match=reason):
        InvokerSettings.from_env(env)


def test_timeout_defaults_to_ten_seconds() -> None:
    assert InvokerSettings.from_env({"ENDPOINT_URL": "http://alb"}).timeout_seconds == 10


def test_warm_invocations_share_nothing(
    endpoint: Endpoint, envelope: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a first delivery that succeeds and a second that the endpoint rejects
    first = handler(envelope, None)
    endpoint.status = 500
    second_envelope = {**envelope, "id": "second", "payload": {"period": "previous-week"}}
    with pytest.raises(EndpointRejectedError):
        handler(second_envelope, None)

    # WHEN the endpoint recovers and a third delivery runs in the same process
    endpoint.status = 202
    third = handler({**envelope, "id": "third"}, None)

    # THEN each request carried only its own envelope, and the failure left no trace
    assert [json.loads(r.body)["id"] for r in endpoint.requests] == [
        envelope["id"],
        "second",
        "third",
    ]
    assert json.loads(endpoint.requests[1].body)["payload"] == {"period": "previous-week"}
    assert (first["id"], first["status"]) == (envelope["id"], 202)
    assert (third["id"], third["status"]) == ("third", 202)
