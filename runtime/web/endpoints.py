"""The private endpoints (``private-endpoints``): take an envelope, answer 202, run it here.

Served by ``gunicorn ... runtime.web.endpoints:app`` behind the internal ALB, whose
listener forwards ``POST /tasks/*``. Callers are the web app's producer
(``ASYNC_TASKS_ENDPOINT_URL``) and the invoker Lambda (schedules and events).

* ``GET /health``: 200 ``{"status": "ok"}``, without AWS.
* ``POST /tasks/<task>``: the body is the envelope. 202 ``{"id", "task"}`` once it is
  valid and admitted; the task then runs on a bounded in-process pool through the
  same :class:`~runtime.dispatcher.Dispatcher` (and idempotency ledger) as the worker.
  400 a malformed envelope, a path that names another task than the envelope, or a
  payload its task's validator refuses; 404 an unknown task; 413 a body over the path's limit;
  503 the pool and its backlog are full or the process is stopping (the caller
  retries: the invoker raises on it, so Lambda's asynchronous retries take over).

Work in flight is lost if the process stops: see :mod:`runtime.web._runner`.

Environment: the dispatcher's (``ASYNC_TASKS_TABLE`` or ``ASYNC_TASKS_IDEMPOTENCY``,
``ASYNC_TASKS_MODULES``) and the pool's (``ASYNC_TASKS_ENDPOINT_CONCURRENCY``,
``ASYNC_TASKS_ENDPOINT_BACKLOG``, ``ASYNC_TASKS_ENDPOINT_DRAIN_SECONDS``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request

from runtime.dispatcher import Dispatcher
from runtime.envelope import Envelope, decode
from runtime.errors import InvalidEnvelopeError, PayloadValidationError, UnknownTaskError
from runtime.idempotency import ledger_from_env
from runtime.registry import Registry
from runtime.web._http import accepted, base_app, json_error
from runtime.web._runner import RunnerBusyError, RunnerSettings, TaskRunner

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

__all__ = ["RUNNER_EXTENSION", "TaskRunner", "create_app"]

# Where the app keeps its runner (``app.extensions[RUNNER_EXTENSION]``).
RUNNER_EXTENSION = "async_tasks_runner"


def create_app(
    environ: Mapping[str, str] | None = None, *, dynamodb: DynamoDBClient | None = None
) -> Flask:
    """The app, its registry, ledger and pool configured from ``environ``.

    Every handler is imported and the ledger's settings are checked here, so a
    misconfigured deployment fails at boot (and the deployment circuit breaker rolls
    it back) instead of on a request. No AWS API is called.
    """
    registry = Registry.from_env(environ)
    registry.load_all()
    runner = TaskRunner(
        Dispatcher(registry, ledger_from_env(environ, dynamodb=dynamodb)),
        RunnerSettings.from_env(environ),
    )
    app = base_app(__name__)
    app.extensions[RUNNER_EXTENSION] = runner

    @app.post("/tasks/<task>")
    def accept_task(task: str) -> Response:
        body = request.get_data()
        try:
            envelope = decode(body)
        except InvalidEnvelopeError as error:
            return json_error(400, str(error))
        if envelope["task"] != task:
            return json_error(
                400,
                f"the path names task '{task}' but the envelope is for task "
                f"'{envelope['task']}'; POST it to /tasks/{envelope['task']}",
            )
        try:
            _check_payload(registry, envelope)
        except UnknownTaskError as error:
            return json_error(404, str(error), known_tasks=sorted(registry.names))
        except PayloadValidationError as error:
            return json_error(400, str(error))
        except (ValueError, TypeError, KeyError) as error:
            # Validators may raise these too; the dispatcher treats them the same way.
            return json_error(400, f"payload of task '{task}': {type(error).__name__}: {error}")
        try:
            runner.submit(envelope, body)
        except RunnerBusyError as error:
            return json_error(503, str(error))
        return accepted(envelope["id"], task)

    return app


def _check_payload(registry: Registry, envelope: Envelope) -> None:
    """Run the task's validator now, so a bad payload is refused (400), not lost later."""
    spec = registry.resolve(envelope["task"])
    if spec.validate is not None:
        spec.validate(envelope["payload"])


@functools.cache
def _default_app() -> Flask:
    return create_app()


def __getattr__(name: str) -> Any:
    # ``app`` is built on first access (gunicorn's at worker boot), not at import, so
    # importing this module needs neither the deployment's environment nor its handlers.
    if name == "app":
        return _default_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
