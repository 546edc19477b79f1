"""One sending process for the shared-rate test.

``python -m tests.runtime.tasks.email_sender_process CAMPAIGN N``

Runs ``send-bulk-email``'s handler for N recipients against the environment's endpoint
(the moto server) and task table, and prints one JSON line per SES call:
``{"ses_call": {"t": <wall time>, "n": <destinations>}}``. A botocore hook records the calls, so the
handler runs unchanged.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from runtime.context import TaskContext
from runtime.tasks.email.send_bulk_email import EmailServices, EmailSettings, run


def _record(params: dict[str, Any], **_: Any) -> None:
    call = {"t": time.time(), "n": len(params["Destinations"])}
    print(json.dumps({"ses_call": call}), flush=True)


def main(campaign: str, count: int) -> None:
    services = EmailServices.from_env()
    services.ses.meta.events.register("provide-client-params.ses.SendBulkTemplatedEmail", _record)
    context = TaskContext(
        task="send-bulk-email",
        envelope_id=campaign,
        idempotency_key=campaign,
        attempt=1,
        created_at="2026-12-07T00:00:00Z",
        trace=None,
        _completion=lambda: None,
    )
    payload = {
        "template": "weekly-digest",
        "campaign": campaign,
        "recipients": [f"r{i}@{campaign}.example.com" for i in range(count)],
    }
    run(payload, context, settings=EmailSettings.from_env(), services=services)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
