"""The consumer's batched SQS calls and its background threads' common base."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from runtime.in_hand import SQS_BATCH
from runtime.log import logger
from runtime.settlement import Message

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import DeleteMessageBatchRequestEntryTypeDef

__all__ = ["BackgroundThread", "Deleter", "change_visibility", "release", "running"]

POLL_STOP_SECONDS = 0.2


def change_visibility(
    sqs: SQSClient, queue_url: str, messages: Sequence[Message], timeout: int
) -> set[int]:
    """ChangeMessageVisibilityBatch in tens; returns the indexes that succeeded."""
    succeeded: set[int] = set()
    for start in range(0, len(messages), SQS_BATCH):
        chunk = messages[start : start + SQS_BATCH]
        try:
            response = sqs.change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": timeout}
                    for i, m in enumerate(chunk)
                ],
            )
        except Exception as error:
            logger.warning("visibility change failed", extra={"error": str(error)})
            continue
        succeeded.update(start + int(entry["Id"]) for entry in response.get("Successful", []))
    return succeeded


def release(sqs: SQSClient, queue_url: str, messages: Sequence[Message]) -> None:
    """Make messages visible again at once (visibility 0), so another consumer takes them."""
    if not messages:
        return
    released = len(change_visibility(sqs, queue_url, messages, 0))
    if released < len(messages):
        logger.warning(
            "some messages were not released; they return after their visibility timeout",
            extra={"failed": len(messages) - released},
        )
    logger.info("released unstarted messages", extra={"released": released})


class BackgroundThread(threading.Thread):
    """A daemon helper thread with a clean close."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.closed = threading.Event()

    def close(self) -> None:
        self.closed.set()
        self.join()


@contextmanager
def running(thread: BackgroundThread) -> Iterator[None]:
    thread.start()
    try:
        yield
    finally:
        thread.close()


class Deleter(BackgroundThread):
    """Acknowledges settled messages in DeleteMessageBatch calls of up to 10."""

    def __init__(self, sqs: SQSClient, queue_url: str, linger_seconds: float) -> None:
        super().__init__("async-task-deleter")
        self._sqs = sqs
        self._queue_url = queue_url
        self._linger = linger_seconds
        self._queue: queue.SimpleQueue[Message] = queue.SimpleQueue()

    def put(self, message: Message) -> None:
        self._queue.put(message)

    def run(self) -> None:
        while not (self.closed.is_set() and self._queue.empty()):
            try:
                batch = [self._queue.get(timeout=POLL_STOP_SECONDS)]
            except queue.Empty:
                continue
            linger_until = time.monotonic() + self._linger
            while len(batch) < SQS_BATCH:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, linger_until - time.monotonic())))
                except queue.Empty:
                    break
            self._send_deletes(batch)

    def _send_deletes(self, batch: list[Message]) -> None:
        entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
            {"Id": str(i), "ReceiptHandle": m.receipt_handle} for i, m in enumerate(batch)
        ]
        failed: Sequence[Mapping[str, object]]
        try:
            failed = self._sqs.delete_message_batch(QueueUrl=self._queue_url, Entries=entries).get(
                "Failed", []
            )
        except Exception as error:
            failed = [{"Id": e["Id"], "Message": str(error)} for e in entries]
        if failed:
            # They come back after their visibility timeout; the ledger marks them duplicates.
            logger.warning(
                "delete failed; the messages will be redelivered as duplicates",
                extra={"failed": failed},
            )
