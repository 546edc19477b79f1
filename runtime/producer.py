"""The producer API: ``enqueue(task, payload)`` whatever the topology.

Routing comes from the environment, first match wins, so switching topology changes
no web-app code:

1. ``ASYNC_TASKS_QUEUE_URL_<TASK>`` (task name upper-cased, ``-`` as ``_``): the task's
   own queue (the ``lambdas`` topology);
2. ``ASYNC_TASKS_QUEUE_URL``: one queue for every task (``worker-service``,
   ``webapp-poller``);
3. ``ASYNC_TASKS_ENDPOINT_URL``: ``POST {endpoint}/tasks/{task}`` with the envelope as
   the body (``private-endpoints``); any 2xx means accepted.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runtime._aws import client
from runtime.envelope import MAX_BODY_BYTES, Envelope, encode, new_envelope
from runtime.errors import EnqueueError, RoutingError, UnknownTaskError
from runtime.registry import MODULES_ENV, Registry

__all__ = [
    "ENDPOINT_URL_ENV",
    "QUEUE_URL_ENV",
    "Producer",
    "enqueue",
    "enqueue_batch",
    "queue_url_env_for",
]

QUEUE_URL_ENV = "ASYNC_TASKS_QUEUE_URL"
ENDPOINT_URL_ENV = "ASYNC_TASKS_ENDPOINT_URL"
_BATCH_ENTRIES = 10
_BATCH_ATTEMPTS = 3
_HTTP_TIMEOUT_SECONDS = 10


def queue_url_env_for(task: str) -> str:
    """The per-task variable, e.g. ASYNC_TASKS_QUEUE_URL_GENERATE_REPORT."""
    return f"{QUEUE_URL_ENV}_{task.upper().replace('-', '_')}"


@dataclass(frozen=True)
class _Route:
    queue_url: str | None = None
    endpoint_url: str | None = None


class Producer:
    """Enqueues envelopes; the environment and the SQS client are injectable."""

    def __init__(self, *, environ: Mapping[str, str] | None = None, sqs: Any = None) -> None:
        self._environ = environ
        self._sqs = sqs

    def enqueue(
        self, task: str, payload: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> str:
        """Send one task; returns the envelope id."""
        route = self._route(task)
        envelope = new_envelope(task, payload, idempotency_key=idempotency_key)
        body = encode(envelope)
        if route.queue_url is not None:
            self._client().send_message(QueueUrl=route.queue_url, MessageBody=body)
        else:
            assert route.endpoint_url is not None
            _post(route.endpoint_url, task, body)
        return envelope["id"]

    def enqueue_batch(self, task: str, payloads: Iterable[Mapping[str, Any]]) -> list[str]:
        """Send many tasks (SendMessageBatch in tens); returns the ids in order."""
        route = self._route(task)
        envelopes = [new_envelope(task, payload) for payload in payloads]
        bodies = [encode(envelope) for envelope in envelopes]
        if route.queue_url is not None:
            for chunk in _chunks(list(zip(envelopes, bodies, strict=True))):
                self._send_batch(route.queue_url, chunk)
        else:
            assert route.endpoint_url is not None
            for body in bodies:
                _post(route.endpoint_url, task, body)
        return [envelope["id"] for envelope in envelopes]

    def _env(self) -> Mapping[str, str]:
        return os.environ if self._environ is None else self._environ

    def _client(self) -> Any:
        return client("sqs") if self._sqs is None else self._sqs

    def _route(self, task: str) -> _Route:
        env = self._env()
        if task not in Registry.from_env(env):
            raise UnknownTaskError(
                f"cannot enqueue unknown task '{task}'; it is neither in the catalogue nor "
                f"registered by a module in {MODULES_ENV}"
            )
        per_task = queue_url_env_for(task)
        if env.get(per_task):
            return _Route(queue_url=env[per_task])
        if env.get(QUEUE_URL_ENV):
            return _Route(queue_url=env[QUEUE_URL_ENV])
        if env.get(ENDPOINT_URL_ENV):
            return _Route(endpoint_url=env[ENDPOINT_URL_ENV])
        raise RoutingError(
            f"no route for task '{task}': set {per_task} or {QUEUE_URL_ENV} (SQS), or "
            f"{ENDPOINT_URL_ENV} (HTTP)"
        )

    def _send_batch(self, queue_url: str, chunk: Sequence[tuple[Envelope, str]]) -> None:
        pending = {str(i): body for i, (_, body) in enumerate(chunk)}
        errors: list[Mapping[str, Any]] = []
        for attempt in range(_BATCH_ATTEMPTS):
            if attempt:
                time.sleep(0.1 * 2**attempt)
            response = self._client().send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": i, "MessageBody": body} for i, body in pending.items()],
            )
            for entry in response.get("Successful", []):
                pending.pop(entry["Id"], None)
            errors = response.get("Failed", [])
            # A sender fault (a bad entry) fails the same way every time.
            if not pending or any(error.get("SenderFault") for error in errors):
                break
        if pending:
            ids = [chunk[int(i)][0]["id"] for i in pending]
            raise EnqueueError(
                f"{len(pending)} of {len(chunk)} envelopes were not enqueued to {queue_url} "
                f"(envelope ids {ids}): {[e.get('Message') or e.get('Code') for e in errors]}"
            )


def enqueue(task: str, payload: Mapping[str, Any], *, idempotency_key: str | None = None) -> str:
    """Enqueue one task as the environment routes it; returns the envelope id.

    ``idempotency_key`` makes repeated enqueues of the same logical task run once
    (within the ledger's retention); without it each call is a new task.
    """
    return Producer().enqueue(task, payload, idempotency_key=idempotency_key)


def enqueue_batch(task: str, payloads: Iterable[Mapping[str, Any]]) -> list[str]:
    """Enqueue many payloads of one task; returns their envelope ids in order."""
    return Producer().enqueue_batch(task, payloads)


def _chunks(items: list[tuple[Envelope, str]]) -> Iterable[list[tuple[Envelope, str]]]:
    """Groups of at most 10 entries and 256 KiB in total (SendMessageBatch's limits)."""
    chunk: list[tuple[Envelope, str]] = []
    size = 0
    for item in items:
        item_size = len(item[1].encode("utf-8"))
        if chunk and (len(chunk) == _BATCH_ENTRIES or size + item_size > MAX_BODY_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item_size
    if chunk:
        yield chunk


def _post(endpoint_url: str, task: str, body: str) -> None:
    url = f"{endpoint_url.rstrip('/')}/tasks/{task}"
    request = urllib.request.Request(
        url,
        data=body.encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT_SECONDS) as response:
            response.read()
    except urllib.error.HTTPError as error:
        detail = error.read()[:200].decode("utf-8", "replace")
        raise EnqueueError(f"POST {url} returned {error.code}: {detail}") from error
    except OSError as error:
        raise EnqueueError(f"POST {url} failed: {error}") from error
