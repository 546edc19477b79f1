"""The ADR's qualitative facts per option, keyed by the consumer kind a stack is stamped with."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.contract.topology import ConsumerKind


@dataclass(frozen=True, kw_only=True)
class Qualities:
    retries: str
    loss_on_restart: str
    fifteen_minute_limit: str
    web_app_load: str
    code_changes: str


QUALITIES: dict[ConsumerKind, Qualities] = {
    ConsumerKind.ENDPOINT: Qualities(
        retries="no: the caller must retry",
        loss_on_restart="yes: work in flight is lost if a task stops",
        fifteen_minute_limit="no limit",
        web_app_load="none (a separate copy of the web app)",
        code_changes="small: reuse the web app's code and patterns",
    ),
    ConsumerKind.WORKER: Qualities(
        retries="yes: SQS redrive to a DLQ",
        loss_on_restart="no: the message returns to the queue",
        fifteen_minute_limit="no limit",
        web_app_load="none",
        code_changes="some: poll a queue; a custom scaling rule and metric Lambda",
    ),
    ConsumerKind.WEBAPP: Qualities(
        retries="yes: SQS redrive to a DLQ",
        loss_on_restart="no: the message returns to the queue",
        fifteen_minute_limit="no limit",
        web_app_load="yes: tasks share the web app's CPU and memory",
        code_changes="small: poll a queue inside the web app",
    ),
    ConsumerKind.LAMBDA: Qualities(
        retries="yes: partial batch failures and redrive to a DLQ",
        loss_on_restart="no: the message returns to the queue",
        fifteen_minute_limit="yes: every task must finish within 15 minutes",
        web_app_load="none",
        code_changes="large: split shared code into a package for the functions",
    ),
}
