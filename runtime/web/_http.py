"""What the two web apps share: ``GET /health``, JSON errors and the body-size limit."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from runtime.envelope import MAX_BODY_BYTES
from runtime.log import logger

__all__ = ["RETRY_AFTER_SECONDS", "accepted", "base_app", "json_error"]

# What a 503 asks the caller to wait before retrying.
RETRY_AFTER_SECONDS = 1


def base_app(import_name: str) -> Flask:
    """A Flask app with ``/health`` and JSON answers for every error, never a traceback."""
    app = Flask(import_name)
    # Nothing larger can become an envelope, so refuse it before reading it (413).
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.add_url_rule("/health", "health", _health, methods=["GET"])
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def accepted(envelope_id: str, task: str) -> Response:
    """202 ``{"id", "task"}``: the task is queued or running, not done."""
    response = jsonify(id=envelope_id, task=task)
    response.status_code = 202
    return response


def json_error(status: int, message: str, **fields: Any) -> Response:
    """``{"error": message, **fields}`` with ``status``; a 503 also says when to retry."""
    response = jsonify(error=message, **fields)
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _health() -> Response:
    # The load balancer and the container check call this: it must stay free of AWS.
    return jsonify(status="ok")


def _http_error(error: HTTPException) -> Response:
    return json_error(error.code or 500, error.description or error.name)


def _unexpected_error(error: Exception) -> Response:
    logger.exception("unhandled error in request", extra={"error_type": type(error).__name__})
    return json_error(500, "internal error; see the service's logs")
