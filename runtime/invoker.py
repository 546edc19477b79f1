"""The HTTP invoker Lambda: delivers a task envelope to the private endpoint service.

In the private-endpoints topology EventBridge Scheduler (which cannot call HTTP) and
EventBridge rules invoke ``runtime.invoker.handler`` asynchronously with a task
envelope as the event. The function runs in the VPC and POSTs the envelope, as JSON,
to ``{ENDPOINT_URL}/tasks/{task}`` on the internal load balancer.

Every failure raises: a non-2xx answer raises :class:`EndpointRejectedError`, a refused
connection or a timeout raises :class:`EndpointUnavailableError`, and an event that is
not an envelope raises :class:`InvalidEnvelopeError`. Lambda's asynchronous retries
and the on-failure destination (an SQS DLQ) then take over, with the reason attached.

Environment: ``ENDPOINT_URL`` (``http://`` or ``https://``, e.g. the internal ALB's DNS
name) and optionally ``INVOKER_TIMEOUT_SECONDS`` (default 10). The function's own
timeout must exceed the invoker timeout.
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypedDict

from runtime.catalogue import TASK_NAME_MAX_LENGTH, is_task_name
from runtime.contract import INVOKER_ENDPOINT_URL_ENV, INVOKER_TIMEOUT_ENV
from runtime.errors import ConfigurationError, InvalidEnvelopeError, TaskRuntimeError
from runtime.log import logger

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "EndpointError",
    "EndpointRejectedError",
    "EndpointUnavailableError",
    "Invocation",
    "InvokerSettings",
    "handler",
    "post_envelope",
]

DEFAULT_TIMEOUT_SECONDS: Final = 10.0
_ERROR_BODY_LIMIT: Final = 500


class EndpointError(TaskRuntimeError):
    """The endpoint did not accept the envelope."""


class EndpointRejectedError(EndpointError):
    """The endpoint answered with a non-2xx status (redirects included)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class EndpointUnavailableError(EndpointError):
    """The endpoint could not be reached: refused, reset, unresolvable or timed out."""


@dataclass(frozen=True, kw_only=True)
class InvokerSettings:
    """Where to post and how long to wait."""

    endpoint_url: str
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> InvokerSettings:
        """Read and check the settings; names the variable and the value on error."""
        endpoint_url = env.get(INVOKER_ENDPOINT_URL_ENV, "")
        parsed = urllib.parse.urlsplit(endpoint_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigurationError(
                f"invoker: environment variable {INVOKER_ENDPOINT_URL_ENV} must be an http(s) "
                f"URL such as 'http://internal-alb-dns', got {endpoint_url!r}"
            )
        raw_timeout = env.get(INVOKER_TIMEOUT_ENV)
        timeout = DEFAULT_TIMEOUT_SECONDS
        if raw_timeout:
            try:
                timeout = float(raw_timeout)
            except ValueError:
                timeout = -1.0
            if not 0 < timeout < float("inf"):
                raise ConfigurationError(
                    f"invoker: environment variable {INVOKER_TIMEOUT_ENV} must be a positive "
                    f"number of seconds, got {raw_timeout!r}"
                )
        return cls(endpoint_url=endpoint_url.rstrip("/"), timeout_seconds=timeout)


class Invocation(TypedDict):
    """What one delivery did: the handler's return value and its log line."""

    task: str
    id: str
    url: str
    status: int


def handler(event: Any, context: Any) -> Invocation:
    """Lambda entry point: the event is the envelope itself."""
    del context
    settings = InvokerSettings.from_env(os.environ)
    invocation = post_envelope(event, settings)
    logger.info("task envelope delivered", extra=dict(invocation))
    return invocation


def post_envelope(event: Any, settings: InvokerSettings) -> Invocation:
    """POST the envelope to its task's endpoint; raises unless the answer is 2xx."""
    envelope = _checked_envelope(event)
    task, task_id = envelope["task"], envelope["id"]
    url = f"{settings.endpoint_url}/tasks/{task}"
    body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    where = f"task '{task}' (id {task_id}) to {url}"
    try:
        with _opener().open(request, timeout=settings.timeout_seconds) as response:
            status = int(response.status)
            response.read()
    except urllib.error.HTTPError as error:
        detail = error.read(_ERROR_BODY_LIMIT).decode("utf-8", "replace")
        error.close()
        raise EndpointRejectedError(
            f"endpoint rejected {where}: HTTP {error.code} {detail}".rstrip(),
            status=error.code,
        ) from error
    except (OSError, http.client.HTTPException) as error:
        # URLError (refused, DNS), TimeoutError and connection resets are all OSErrors.
        reason = getattr(error, "reason", None) or error
        raise EndpointUnavailableError(
            f"endpoint unavailable for {where}: {type(reason).__name__}: {reason}"
        ) from error
    if not 200 <= status < 300:
        # urllib's default opener raises HTTPError for any non-2xx; this guards the rest.
        raise EndpointRejectedError(f"endpoint answered {where}: HTTP {status}", status=status)
    return Invocation(task=task, id=task_id, url=url, status=status)


def _checked_envelope(event: Any) -> dict[str, Any]:
    """A minimal shape check; the endpoint runs the full envelope validation.

    It only needs to make the URL safe and fail early with a reason the DLQ keeps.
    """
    if not isinstance(event, dict):
        raise InvalidEnvelopeError(
            f"invoker: the event must be a task envelope (a JSON object), got "
            f"{type(event).__name__}"
        )
    problems: list[str] = []
    task = event.get("task")
    if not isinstance(task, str):
        problems.append(f"'task' must be a string, got {_kind(task)}")
    elif not is_task_name(task):  # the catalogue's rule keeps the URL path safe
        problems.append(
            f"'task' must be a kebab-case name (a-z, 0-9, hyphens) of at most "
            f"{TASK_NAME_MAX_LENGTH} characters, got {task[:80]!r}"
        )
    task_id = event.get("id")
    if not isinstance(task_id, str) or not task_id:
        problems.append(f"'id' must be a non-empty string, got {_kind(task_id)}")
    version = event.get("version")
    if type(version) is not int:  # bool is an int subclass; reject it too
        problems.append(f"'version' must be an integer, got {_kind(version)}")
    if not isinstance(event.get("created_at"), str):
        problems.append(f"'created_at' must be a string, got {_kind(event.get('created_at'))}")
    if not isinstance(event.get("payload"), dict):
        problems.append(f"'payload' must be an object, got {_kind(event.get('payload'))}")
    if problems:
        raise InvalidEnvelopeError(
            "invoker: the event is not a task envelope: " + "; ".join(problems)
        )
    return event


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: urllib would turn the POST into a GET and drop the envelope."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _opener() -> urllib.request.OpenerDirector:
    # No proxies: the endpoint is an internal load balancer reached over the VPC, and a
    # proxy variable in the environment must not route envelopes elsewhere.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
