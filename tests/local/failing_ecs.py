"""A real local HTTP server playing Amazon ECS's API for one service whose image cannot
start, so the waker meets the state moto's ECS cannot reach.

What it plays, from "Amazon ECS service throttle logic" and "Viewing Amazon ECS stopped
task errors" (Amazon ECS Developer Guide): a service whose tasks stop at start-up
(CannotPullContainerError) keeps its desired count; the scheduler launches a task
(pending), the task stops, and the next launch waits a growing delay, so between
attempts DescribeServices reports desired 1, running 0, pending 0. The API is ECS's
JSON 1.1 protocol ("Making API requests", Amazon ECS API Reference): ``POST /`` with
``X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Action>``. Only DescribeServices
and UpdateService are served, as the waker's role allows no more.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from local.http_server import BackgroundHttpServer

_TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."


@dataclass
class FailingService:
    """One service; each launch is pending for ``pending_seconds``, then stops, and the
    next waits ``backoff_seconds`` (ECS's throttle, shortened)."""

    pending_seconds: float = 0.5
    backoff_seconds: float = 2.0
    desired: int = 0
    launches: int = 0
    updates: list[tuple[float, int]] = field(default_factory=list)
    desired_seen: list[int] = field(default_factory=list)
    _launched_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def counts(self) -> tuple[int, int, int]:
        """(desired, running, pending) now: never running, pending while a launch tries."""
        with self._lock:
            now = time.monotonic()
            if self.desired == 0:
                self._launched_at = None
                return 0, 0, 0
            if self._launched_at is None or (
                now - self._launched_at > self.pending_seconds + self.backoff_seconds
            ):
                self._launched_at = now
                self.launches += 1
            pending = int(now - self._launched_at <= self.pending_seconds)
            self.desired_seen.append(self.desired)
            return self.desired, 0, pending

    def update(self, desired: int) -> None:
        with self._lock:
            self.updates.append((time.monotonic(), desired))
            self.desired = desired


class FailingEcs(BackgroundHttpServer):
    """``FailingService`` behind ECS's API on 127.0.0.1 (``url``), for ``AWS_ENDPOINT_URL_ECS``."""

    def __init__(self, service: FailingService, cluster: str, name: str) -> None:
        self.service, self.cluster, self.name = service, cluster, name
        super().__init__(_handler(self), "failing-ecs")

    def answer(self, action: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if request.get("cluster") != self.cluster:
            return 400, {"__type": "ClusterNotFoundException", "message": "Cluster not found."}
        if action == "DescribeServices":
            desired, running, pending = self.service.counts()
            found = {
                "serviceName": self.name,
                "status": "ACTIVE",
                "desiredCount": desired,
                "runningCount": running,
                "pendingCount": pending,
            }
            return 200, {
                "services": [found] if self.name in request["services"] else [],
                "failures": [],
            }
        if action == "UpdateService" and request.get("service") == self.name:
            self.service.update(int(request["desiredCount"]))
            desired, running, pending = self.service.counts()
            return 200, {
                "service": {
                    "serviceName": self.name,
                    "desiredCount": desired,
                    "runningCount": running,
                    "pendingCount": pending,
                }
            }
        return 400, {"__type": "AccessDeniedException", "message": f"{action} is not allowed"}


def _handler(ecs: FailingEcs) -> type[BaseHTTPRequestHandler]:
    class Api(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = json.loads(self.rfile.read(length) or b"{}")
            action = str(self.headers.get("X-Amz-Target", "")).removeprefix(_TARGET_PREFIX)
            status, body = ecs.answer(action, request)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Api
