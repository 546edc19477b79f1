"""The stand-in web app: ``POST /tasks/<task>`` enqueues through the producer API.

Served by ``gunicorn ... runtime.web.webapp:app`` in every ECS topology. It does what a
real web app does to start a task, a call to ``enqueue``, so the producer's routing
variables (``ASYNC_TASKS_QUEUE_URL_<TASK>``, ``ASYNC_TASKS_QUEUE_URL``,
``ASYNC_TASKS_ENDPOINT_URL``) decide where the task goes and one app fits every topology.

* ``GET /health``: 200 ``{"status": "ok"}``, without AWS.
* ``POST /tasks/<task>``: the JSON body is the payload; the optional
  ``Idempotency-Key`` header becomes the envelope's ``idempotency_key``.
  202 ``{"id", "task"}``; 400 a body that is not a JSON object or an invalid envelope;
  403 an event-only task (its input must come from the AWS event, with the reason);
  404 an unknown task (the answer lists the known ones); 413 an envelope over its
  path's limit (runtime.contract.payload_limits); 503 the queue or endpoint failed (retry);
  500 no route is configured.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, Response, request

from runtime.errors import (
    ConfigurationError,
    EnqueueError,
    EnvelopeTooLargeError,
    EventOnlyTaskError,
    InvalidEnvelopeError,
    UnknownTaskError,
)
from runtime.log import logger
from runtime.producer import Producer
from runtime.web._http import accepted, base_app, json_error

__all__ = ["IDEMPOTENCY_HEADER", "app", "create_app"]

IDEMPOTENCY_HEADER = "Idempotency-Key"


def create_app(producer: Producer | None = None) -> Flask:
    """The app; ``producer`` defaults to one that reads the environment at each call.

    Building it reads no variable and calls no AWS API: the routing is read per
    request (a missing route is a 500 there), and ``/health`` never depends on AWS.
    """
    enqueuer = Producer() if producer is None else producer
    app = base_app(__name__)

    @app.post("/tasks/<task>")
    def enqueue_task(task: str) -> Response:
        payload = request.get_json(force=True, silent=True)
        if not isinstance(payload, dict):
            return json_error(400, "the body must be a JSON object: the task's payload")
        try:
            envelope_id = enqueuer.enqueue(
                task, payload, idempotency_key=request.headers.get(IDEMPOTENCY_HEADER)
            )
        except EventOnlyTaskError as error:
            return json_error(403, str(error))
        except UnknownTaskError as error:
            return json_error(404, str(error), known_tasks=enqueuer.known_tasks())
        except EnvelopeTooLargeError as error:
            return json_error(413, str(error))
        except InvalidEnvelopeError as error:
            return json_error(400, str(error))
        except ConfigurationError as error:
            logger.error("cannot enqueue: misconfigured", extra={"task": task, "error": str(error)})
            return json_error(500, str(error))
        except (EnqueueError, BotoCoreError, ClientError) as error:
            logger.error("cannot enqueue", extra={"task": task, "error": str(error)})
            return json_error(503, f"could not enqueue task '{task}'; retry later")
        logger.info("task enqueued", extra={"task": task, "id": envelope_id})
        return accepted(envelope_id, task)

    return app


app = create_app()
