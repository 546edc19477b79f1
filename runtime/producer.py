"""The producer API: ``enqueue(task, payload)`` whatever the topology.

Routing comes from the environment, first match wins, so switching topology changes
no web-app code:

1. ``ASYNC_TASKS_QUEUE_URL_<TASK>`` (task name upper-cased, ``-`` as ``_``): the task's
   own queue (the ``lambdas`` topology);
2. ``ASYNC_TASKS_QUEUE_URL``: one queue for every task (``worker-service``,
   ``webapp-poller``);
3. ``ASYNC_TASKS_ENDPOINT_URL``: ``POST {endpoint}/tasks/{task}`` with the envelope as
   the body (``private-endpoints``); any 2xx means accepted.

After a send to a queue, when ``ASYNC_TASKS_WAKER_FUNCTION`` is set (``worker-service``),
the producer nudges the waker so a service at zero starts a task at once
(``runtime.wake_nudge``: asynchronous, debounced per process, never raising).

The producer checks a task by name only, never importing handler code: a catalogue
task, or one named in ``ASYNC_TASKS_TASK_NAMES``. It refuses event-only catalogue
tasks (no ``OnDemand`` trigger): their input must come from the AWS event itself.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ParamValidationError,
)

from runtime.aws_clients import client
from runtime.catalogue import CATALOGUE
from runtime.contract import (
    ENDPOINT_URL_ENV,
    QUEUE_URL_ENV,
    TASK_NAMES_ENV,
    UNAVAILABLE_TASKS_ENV,
    WAKER_FUNCTION_ENV,
    queue_url_env_for,
)
from runtime.contract.payload_limits import (
    ENDPOINT_PATH,
    SHARED_QUEUE_PATH,
    SQS_MESSAGE_BYTES,
    TASK_QUEUE_PATH,
    PathLimit,
)
from runtime.envelope import encode, new_envelope
from runtime.errors import (
    EnqueueError,
    EventOnlyTaskError,
    PartialEnqueueError,
    RoutingError,
    UnavailableTaskError,
    UnknownTaskError,
    UnsentPayload,
)
from runtime.registry import MODULES_ENV
from runtime.wake_nudge import nudger_for

__all__ = [
    "ENDPOINT_URL_ENV",
    "QUEUE_URL_ENV",
    "TASK_NAMES_ENV",
    "Producer",
    "enqueue",
    "enqueue_batch",
    "queue_url_env_for",
]

_BATCH_ENTRIES = 10
_BATCH_ATTEMPTS = 3
_HTTP_TIMEOUT_SECONDS = 10
# Errors raised before a request left this process: the envelopes were not sent.
_NOT_SENT_ERRORS = (EndpointConnectionError, ConnectTimeoutError, ParamValidationError)


class BatchSender(Protocol):
    """The one SQS call a producer makes: boto3's SQS client has it, and so do test fakes.

    ``Entries`` is a list of SendMessageBatch entries; it is typed loosely so a fake
    taking plain dicts fits as well as ``SQSClient``.
    """

    def send_message_batch(self, *, QueueUrl: str, Entries: list[Any]) -> Mapping[str, Any]: ...  # noqa: N803


@dataclass(frozen=True)
class _Route:
    path: PathLimit
    queue_url: str | None = None
    endpoint_url: str | None = None

    @property
    def endpoint(self) -> str:
        if self.endpoint_url is None:
            raise RoutingError(f"no endpoint URL on the {self.path.path} route")
        return self.endpoint_url


class Producer:
    """Enqueues envelopes; the environment and the SQS client are injectable."""

    def __init__(
        self, *, environ: Mapping[str, str] | None = None, sqs: BatchSender | None = None
    ) -> None:
        self._environ = environ
        self._sqs = sqs

    def known_tasks(self) -> list[str]:
        """The task names this producer accepts: the catalogue's and ``ASYNC_TASKS_TASK_NAMES``."""
        return sorted({*CATALOGUE, *_declared_names(self._env())})

    def enqueue(
        self, task: str, payload: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> str:
        """Send one task; returns the envelope id."""
        return self.enqueue_batch(task, [payload], idempotency_keys=[idempotency_key])[0]

    def enqueue_batch(
        self,
        task: str,
        payloads: Iterable[Mapping[str, Any]],
        *,
        idempotency_keys: Sequence[str | None] | None = None,
    ) -> list[str]:
        """Send many tasks (SendMessageBatch in tens); returns the ids in order.

        ``idempotency_keys``, one per payload (None for none), make a resend of the same
        logical tasks run once. If a call fails part-way, PartialEnqueueError's
        ``failed`` names each payload not sent or unknown by its index in ``payloads``
        and its key: resend exactly those, with the same keys (docs/runtime.md).
        """
        route = self._route(task)
        payloads = list(payloads)
        keys = list(idempotency_keys) if idempotency_keys is not None else [None] * len(payloads)
        if len(keys) != len(payloads):
            raise ValueError(
                f"{len(payloads)} payloads but {len(keys)} idempotency keys; pass one per payload"
            )
        envelopes = [
            new_envelope(task, payload, idempotency_key=key)
            for payload, key in zip(payloads, keys, strict=True)
        ]
        bodies = [encode(envelope, route.path) for envelope in envelopes]
        items = list(zip([e["id"] for e in envelopes], bodies, strict=True))
        progress = _Progress([(e["id"], e.get("idempotency_key")) for e in envelopes])
        if route.queue_url is not None:
            try:
                for chunk in _chunks(items, SQS_MESSAGE_BYTES):
                    self._send_batch(route.queue_url, chunk, progress)
            finally:
                if progress.any_sent:
                    self._nudge_waker()
        else:
            for item in items:
                _post(route.endpoint, task, item, progress)
        return [envelope["id"] for envelope in envelopes]

    def _env(self) -> Mapping[str, str]:
        return os.environ if self._environ is None else self._environ

    def _nudge_waker(self) -> None:
        function = self._env().get(WAKER_FUNCTION_ENV)
        if function:
            nudger_for(function).nudge()

    def _client(self) -> BatchSender:
        return client("sqs") if self._sqs is None else self._sqs

    def _route(self, task: str) -> _Route:
        env = self._env()
        _check_enqueueable(task, env)
        per_task = queue_url_env_for(task)
        if env.get(per_task):
            return _Route(TASK_QUEUE_PATH, queue_url=env[per_task])
        if env.get(QUEUE_URL_ENV):
            return _Route(SHARED_QUEUE_PATH, queue_url=env[QUEUE_URL_ENV])
        if env.get(ENDPOINT_URL_ENV):
            return _Route(ENDPOINT_PATH, endpoint_url=env[ENDPOINT_URL_ENV])
        raise RoutingError(
            f"no route for task '{task}': set {per_task} or {QUEUE_URL_ENV} (SQS), or "
            f"{ENDPOINT_URL_ENV} (HTTP)"
        )

    def _send_batch(
        self, queue_url: str, chunk: Sequence[tuple[str, str]], progress: _Progress
    ) -> None:
        pending = {str(i): body for i, (_, body) in enumerate(chunk)}
        errors: Sequence[Mapping[str, Any]] = []
        for attempt in range(_BATCH_ATTEMPTS):
            if attempt:
                time.sleep(0.1 * 2**attempt)
            try:
                response = self._client().send_message_batch(
                    QueueUrl=queue_url,
                    Entries=[{"Id": i, "MessageBody": body} for i, body in pending.items()],
                )
            except (BotoCoreError, ClientError) as error:
                ids = [chunk[int(i)][0] for i in pending]
                progress.fail(
                    ids, error, in_flight=not isinstance(error, (ClientError, *_NOT_SENT_ERRORS))
                )
            for entry in response.get("Successful", []):
                progress.sent(chunk[int(entry["Id"])][0])
                pending.pop(entry["Id"], None)
            errors = response.get("Failed", [])
            # A sender fault (a bad entry) fails the same way every time.
            if not pending or any(error.get("SenderFault") for error in errors):
                break
        if pending:
            reasons = [e.get("Message") or e.get("Code") for e in errors]
            progress.fail(
                [chunk[int(i)][0] for i in pending],
                EnqueueError(f"{queue_url} refused them: {reasons}"),
                in_flight=False,
            )


class _Progress:
    """Which envelopes of one call were sent; raises PartialEnqueueError on failure.

    ``envelopes`` are (envelope id, idempotency key) in the caller's order, so a failure
    can name each payload by its index in the caller's input.
    """

    # The error message lists this many payloads; ``failed`` holds them all.
    _SHOWN = 20

    def __init__(self, envelopes: list[tuple[str, str | None]]) -> None:
        self._envelopes = envelopes
        self._sent: list[str] = []

    def sent(self, envelope_id: str) -> None:
        self._sent.append(envelope_id)

    @property
    def any_sent(self) -> bool:
        return bool(self._sent)

    def fail(self, ids: list[str], error: Exception, *, in_flight: bool) -> NoReturn:
        unknown = set(ids) if in_flight else set()
        sent = set(self._sent)
        failed = [
            UnsentPayload(
                index, key, envelope_id, "unknown" if envelope_id in unknown else "not_sent"
            )
            for index, (envelope_id, key) in enumerate(self._envelopes)
            if envelope_id not in sent
        ]
        raise PartialEnqueueError(
            f"enqueue failed after {len(self._sent)} of {len(self._envelopes)} payloads: "
            f"{type(error).__name__}: {error}. Resend the payloads at these indexes with the "
            f"same idempotency keys (error.failed lists them all): {self._describe(failed)}",
            sent=list(self._sent),
            failed=failed,
        ) from error

    def _describe(self, failed: list[UnsentPayload]) -> str:
        shown = ", ".join(
            f"{p.index} (key {p.idempotency_key!r}, {p.status.replace('_', ' ')})"
            for p in failed[: self._SHOWN]
        )
        more = len(failed) - self._SHOWN
        unkeyed = sum(1 for p in failed if p.status == "unknown" and p.idempotency_key is None)
        warning = (
            f"; {unkeyed} unknown without an idempotency key may run twice if resent"
            if unkeyed
            else ""
        )
        return shown + (f" and {more} more" if more > 0 else "") + warning


def _declared_names(env: Mapping[str, str]) -> set[str]:
    return {name.strip() for name in env.get(TASK_NAMES_ENV, "").split(",") if name.strip()}


def _check_enqueueable(task: str, env: Mapping[str, str]) -> None:
    """By name only: a catalogue entry, or a name declared in ASYNC_TASKS_TASK_NAMES."""
    task_type = CATALOGUE.get(task)
    if task_type is not None:
        if not task_type.on_demand:
            sources = ", ".join(
                t.description or "an EventBridge rule" for t in task_type.event_triggers
            )
            raise EventOnlyTaskError(
                f"task '{task}' cannot be enqueued: its only trigger is the AWS event "
                f"({sources}). "
                "An enqueued copy would be a forged result (for example, one marking an "
                "infected upload clean)"
            )
        _check_available(task, env)
        return
    if task not in _declared_names(env):
        raise UnknownTaskError(
            f"cannot enqueue unknown task '{task}'; it is not in the catalogue. A task "
            f"registered only by the consumers (their {MODULES_ENV}) is enqueued by name: "
            f"add it to {TASK_NAMES_ENV}"
        )


def _check_available(task: str, env: Mapping[str, str]) -> None:
    """Refuse now what the deployed configuration cannot run, rather than dead-letter it."""
    unavailable = {name.strip() for name in env.get(UNAVAILABLE_TASKS_ENV, "").split(",")}
    if task not in unavailable:
        return
    why = (
        "it sends email and the stack was deployed without an email sender; redeploy with "
        "-c emailSender=<a verified SES identity>"
        if CATALOGUE[task].sends_email
        else "the stack was deployed without what it needs"
    )
    raise UnavailableTaskError(
        f"task '{task}' cannot run in this deployment ({UNAVAILABLE_TASKS_ENV}): {why}"
    )


def enqueue(task: str, payload: Mapping[str, Any], *, idempotency_key: str | None = None) -> str:
    """Enqueue one task as the environment routes it; returns the envelope id.

    ``idempotency_key`` makes repeated enqueues of the same logical task run once
    (within the ledger's retention); without it each call is a new task.
    """
    return Producer().enqueue(task, payload, idempotency_key=idempotency_key)


def enqueue_batch(
    task: str,
    payloads: Iterable[Mapping[str, Any]],
    *,
    idempotency_keys: Sequence[str | None] | None = None,
) -> list[str]:
    """Enqueue many payloads of one task; returns their envelope ids in order."""
    return Producer().enqueue_batch(task, payloads, idempotency_keys=idempotency_keys)


def _chunks(items: list[tuple[str, str]], max_bytes: int) -> Iterable[list[tuple[str, str]]]:
    """Groups of at most 10 entries and ``max_bytes`` in total (SendMessageBatch's limits)."""
    chunk: list[tuple[str, str]] = []
    size = 0
    for item in items:
        item_size = len(item[1].encode("utf-8"))
        if chunk and (len(chunk) == _BATCH_ENTRIES or size + item_size > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item_size
    if chunk:
        yield chunk


def _post(endpoint_url: str, task: str, item: tuple[str, str], progress: _Progress) -> None:
    envelope_id, body = item
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
        progress.fail(
            [envelope_id],
            EnqueueError(f"POST {url} returned {error.code}: {detail}"),
            in_flight=False,
        )
    except OSError as error:
        # A timeout or reset may come after the endpoint accepted it: unknown.
        progress.fail([envelope_id], EnqueueError(f"POST {url} failed: {error}"), in_flight=True)
    progress.sent(envelope_id)
