"""The producer refuses, in one line, a task the deployed configuration cannot run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from runtime.contract import QUEUE_URL_ENV, UNAVAILABLE_TASKS_ENV
from runtime.errors import ConfigurationError, UnavailableTaskError
from runtime.producer import Producer
from tests.runtime.helpers import QueuePair, receive_all


def test_email_task_without_a_sender_is_refused_and_nothing_is_sent(
    sqs: Any, make_queue: Callable[..., QueuePair]
) -> None:
    # GIVEN a deployment without emailSender (the stacks set the variable)
    queue = make_queue()
    producer = Producer(
        environ={QUEUE_URL_ENV: queue.url, UNAVAILABLE_TASKS_ENV: "send-bulk-email"}
    )
    # WHEN the web app enqueues an email campaign, THEN it is refused at once
    with pytest.raises(UnavailableTaskError) as refused:
        producer.enqueue("send-bulk-email", {"template": "t", "recipients": ["a@example.com"]})
    message = str(refused.value)
    assert "\n" not in message
    assert message == (
        f"task 'send-bulk-email' cannot run in this deployment ({UNAVAILABLE_TASKS_ENV}): it "
        "sends email and the stack was deployed without an email sender; redeploy with "
        "-c emailSender=<a verified SES identity>"
    )
    assert isinstance(refused.value, ConfigurationError)  # the web app answers 500
    assert receive_all(sqs, queue.url) == []
    # AND the tasks it can run still go through
    producer.enqueue("generate-report", {"period": "2026-11"})
    assert len(receive_all(sqs, queue.url)) == 1
