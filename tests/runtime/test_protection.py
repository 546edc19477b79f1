"""ScaleInProtection against a real local HTTP server answering as the ECS agent does.

The response shapes are those of amazon-ecs-agent's task-protection handler,
ecs-agent/tmds/handlers/taskprotection/v1/handlers/handlers.go, with its types in
ecs-agent/tmds/handlers/taskprotection/v1/types/types.go (TaskProtectionResponse:
``protection`` on success; ``failure`` {Arn, Reason, Detail} with status **200** when
ECS's UpdateTaskProtection returns a failure; ``error`` {Arn, Code, Message} with a 4xx/5xx).
The endpoint is described in "Protect your Amazon ECS tasks from being terminated by
scale-in events", https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection.html
(and "Amazon ECS task scale-in protection endpoint",
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection-endpoint.html).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from runtime.protection import ScaleInProtection

TASK_ARN = "arn:aws:ecs:eu-west-2:123456789012:task/async-tasks/0b69d5c0d0f14d0fbc5b1e2f3a4b5c6d"

# What the agent writes, per its handler (types.TaskProtectionResponse as JSON).
PROTECTED = {
    "protection": {
        "ExpirationDate": "2026-12-01T21:30:00Z",
        "ProtectionEnabled": True,
        "TaskArn": TASK_ARN,
    }
}
RELEASED = {"protection": {"ExpirationDate": None, "ProtectionEnabled": False, "TaskArn": TASK_ARN}}
# logAndValidateECSResponse: a failure from UpdateTaskProtection is answered with 200.
ECS_FAILURE = {
    "failure": {
        "Arn": TASK_ARN,
        "Reason": "TASK_NOT_VALID",
        "Detail": "The task is not part of a service",
    }
}
# logAndHandleECSError: ECS's exception with its HTTP status, code and request id.
ECS_ERROR = {
    "requestID": "8d0e6f8b-2a9c-4a4b-9b8e-6f5d4c3b2a10",
    "error": {
        "Arn": TASK_ARN,
        "Code": "AccessDeniedException",
        "Message": "User is not authorized to perform: ecs:UpdateTaskProtection",
    },
}
# The agent's own input validation (UpdateTaskProtectionHandler): 400.
BAD_REQUEST = {
    "error": {
        "Arn": TASK_ARN,
        "Code": "InvalidParameterException",
        "Message": "Invalid request: does not contain 'ProtectionEnabled' field",
    }
}


@dataclass
class Agent:
    """A fake agent endpoint: answers each PUT with the next scripted (status, body)."""

    url: str
    answers: list[tuple[int, Any]]
    bodies: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def agent() -> Iterator[Agent]:
    state = Agent(url="", answers=[])

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            assert self.path == "/task-protection/v1/state"
            length = int(self.headers.get("Content-Length") or 0)
            state.bodies.append(json.loads(self.rfile.read(length)))
            status, body = state.answers.pop(0) if state.answers else (200, PROTECTED)
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}"
    yield state
    server.shutdown()
    server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_success_holds_and_is_not_renewed_before_half_the_expiry(agent: Agent) -> None:
    agent.answers = [(200, PROTECTED), (200, RELEASED)]
    clock = Clock()
    protection = ScaleInProtection(agent.url, expires_minutes=30, clock=clock)

    protection.hold()
    clock.now += 60
    protection.hold()  # held: no second call
    protection.release()

    assert agent.bodies == [
        {"ProtectionEnabled": True, "ExpiresInMinutes": 30},
        {"ProtectionEnabled": False},
    ]


def test_a_200_carrying_an_ecs_failure_is_not_held_and_the_next_hold_retries(
    agent: Agent, caplog: pytest.LogCaptureFixture
) -> None:
    agent.answers = [(200, ECS_FAILURE), (200, PROTECTED)]
    clock = Clock()
    protection = ScaleInProtection(agent.url, expires_minutes=30, clock=clock)

    protection.hold()

    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "TASK_NOT_VALID" in warning.getMessage()
    assert "The task is not part of a service" in warning.getMessage()
    protection.release()  # nothing held: no call to release
    assert len(agent.bodies) == 1

    clock.now += 1  # well inside the renewal interval
    protection.hold()

    assert agent.bodies == [{"ProtectionEnabled": True, "ExpiresInMinutes": 30}] * 2


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (400, BAD_REQUEST, "InvalidParameterException"),
        (403, ECS_ERROR, "AccessDeniedException"),
        (500, {"error": {"Code": "ServerException", "Message": "boom"}}, "ServerException"),
        (504, b"gateway timeout", "HTTP 504"),
    ],
)
def test_an_error_status_is_a_failure_with_the_agents_reason(
    agent: Agent, caplog: pytest.LogCaptureFixture, status: int, body: Any, reason: str
) -> None:
    agent.answers = [(status, body), (200, PROTECTED)]
    protection = ScaleInProtection(agent.url, clock=Clock())

    protection.hold()
    protection.hold()  # not held, so it calls again at once

    assert len(agent.bodies) == 2
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert reason in warning.getMessage()


def test_a_200_carrying_an_error_is_a_failure(
    agent: Agent, caplog: pytest.LogCaptureFixture
) -> None:
    agent.answers = [(200, ECS_ERROR), (200, PROTECTED)]
    protection = ScaleInProtection(agent.url, clock=Clock())

    protection.hold()
    protection.hold()

    assert len(agent.bodies) == 2
    assert any("AccessDeniedException" in r.getMessage() for r in caplog.records)


def test_a_release_the_agent_refuses_is_tried_again(agent: Agent) -> None:
    agent.answers = [(200, PROTECTED), (200, ECS_FAILURE), (200, RELEASED)]
    protection = ScaleInProtection(agent.url, clock=Clock())

    protection.hold()
    protection.release()  # refused: still counted as held
    protection.release()

    assert [b["ProtectionEnabled"] for b in agent.bodies] == [True, False, False]


def test_an_unreachable_agent_is_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    # Port 9 (discard) on loopback: nothing listens, so the connection is refused.
    protection = ScaleInProtection("http://127.0.0.1:9", clock=Clock())

    protection.hold()

    assert any("protection call failed" in r.getMessage() for r in caplog.records)
