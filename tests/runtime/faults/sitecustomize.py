"""Fault injection for runtime processes started by the tests (worker, poller, Lambda init).

Python imports ``sitecustomize`` at start-up from the first directory on ``sys.path``
that has one, so a test puts this directory first on a child's ``PYTHONPATH`` and
describes the faults in ``ASYNC_TASKS_TEST_FAULTS`` (JSON)::

    [{"operation": "dynamodb.GetItem", "code": "ProvisionedThroughputExceededException",
      "status": 400, "times": 3}]

Each fault answers the first ``times`` calls of that operation with that error instead
of sending them (botocore's ``before-call`` event), on every client of boto3's default
session: the runtime's own clients, unchanged. Without the variable this does nothing.
"""

from __future__ import annotations

import json
import os
from typing import Any

FAULTS_ENV = "ASYNC_TASKS_TEST_FAULTS"


def _install(faults: list[dict[str, Any]]) -> None:
    import boto3
    from botocore.awsrequest import AWSResponse

    boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    assert session is not None
    for fault in faults:
        service, operation = fault["operation"].split(".")
        left = {"calls": int(fault["times"])}

        def inject(
            fault: dict[str, Any] = fault, left: dict[str, int] = left, **_: Any
        ) -> tuple[AWSResponse, dict[str, Any]] | None:
            if left["calls"] <= 0:
                return None
            left["calls"] -= 1
            status = int(fault["status"])
            response = AWSResponse("https://injected", status, {}, None)  # type: ignore[arg-type]
            error = {"Code": fault["code"], "Message": "injected by ASYNC_TASKS_TEST_FAULTS"}
            return response, {"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}

        # botocore types handlers as returning None; before-call may answer the call.
        session.events.register(f"before-call.{service}.{operation}", inject)  # type: ignore[arg-type]


if os.environ.get(FAULTS_ENV):
    _install(json.loads(os.environ[FAULTS_ENV]))
