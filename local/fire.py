"""``--fire <task>``: deliver what a task's schedule or EventBridge rule would, now.

Read from the deployed stack (GetTemplate, ListStackResources), so it also works from
another shell with local-deploy's exports: ``python -m local.fire generate-report``.

- A schedule's target gets the schedule's ``Input`` with Scheduler's context attributes
  filled in.
- A rule's target gets what its input transformer (read from the template) builds
  around the event: the envelope, with the event's id and time. The event is
  the sample in tests/events, made true first: for ``virus-scan-result`` a CSV is
  uploaded to ``uploads/`` and tagged ``GuardDutyMalwareScanStatus=NO_THREATS_FOUND``
  as GuardDuty would (the handler acts only on a verdict the tag confirms); for
  ``email-feedback`` the bounce names the last message the send ledger shows as sent
  (the handler acts only on a message the ledger holds), so send an email first.
- A queue target is sent to; a Lambda target (the private-endpoints invoker) is run
  here, by its deployed ``Handler``, with its deployed environment, its ``ENDPOINT_URL`` pointed at
  ``$ASYNC_TASKS_ENDPOINT_URL`` (the local endpoint service).
- The trigger's nudges (worker-service: a rule's second target, a schedule's wake twin)
  go to the waker through Lambda's Invoke API at ``$AWS_ENDPOINT_URL_LAMBDA``, which
  local-deploy serves and exports.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr

from comparison.inputs.templates import parse_template
from local.delivery import eventbridge_delivery, scheduler_delivery
from local.entrypoints import invoke
from runtime.catalogue import CATALOGUE, OnDemand
from runtime.contract import (
    ENDPOINT_URL_ENV,
    INVOKER_ENDPOINT_URL_ENV,
    NUDGED_BY_KEY,
    TASK_TABLE_OUTPUT,
    UPLOADS_BUCKET_OUTPUT,
)
from runtime.contract.topology import BY_STACK_ID

EVENTS = Path(__file__).resolve().parent.parent / "tests" / "events"
SCAN_SAMPLE = EVENTS / "guardduty_malware_scan_result.json"
BOUNCE_SAMPLE = EVENTS / "ses_bounce.json"
SAMPLE_CSV = (
    "uprn,address_line_1,address_line_2,address_line_3,town,postcode,property_type,"
    "floor_area_sqm,build_year\n"
    "200,1 Sample St,,,Leeds,LS1 1AA,flat,55,1990\n"
    "201,2 Sample St,,,Leeds,LS1 1AB,terraced,,\n"
)
SAMPLE_RECIPIENT = "subscriber@example.com"
# Where boto3 sends Lambda calls; local-deploy serves Invoke there (local.lambda_endpoint).
_LAMBDA_ENDPOINT_ENV = "AWS_ENDPOINT_URL_LAMBDA"
# Tasks with a schedule or a rule: the catalogue's triggers other than on demand.
FIRABLE = tuple(
    name
    for name, task in CATALOGUE.items()
    if any(not isinstance(trigger, OnDemand) for trigger in task.triggers)
)


class FireError(RuntimeError):
    """Nothing to fire, or what the user must do first; one line."""


class StackView:
    """The deployed stack as the emulator reports it."""

    def __init__(self, stack_name: str | None = None) -> None:
        cfn = boto3.client("cloudformation")
        names = [
            s["StackName"]
            for s in cfn.describe_stacks()["Stacks"]
            if s["StackName"] in BY_STACK_ID and s["StackStatus"] == "CREATE_COMPLETE"
        ]
        if stack_name is None:
            if len(names) != 1:
                raise FireError(
                    f"expected one topology's stack in the emulator, found {names}; "
                    "name one of them"
                )
            stack_name = names[0]
        self.name = stack_name
        body = cfn.get_template(StackName=stack_name)["TemplateBody"]
        document = json.loads(body) if isinstance(body, str) else body
        self.template = parse_template(stack_name, document)
        pages = cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name)
        self.physical = {
            s["LogicalResourceId"]: s.get("PhysicalResourceId", "")
            for page in pages
            for s in page["StackResourceSummaries"]
            if s.get("LogicalResourceId")
        }
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def triggers(view: StackView) -> dict[str, tuple[str, dict[str, Any]]]:
    """Task name -> (kind, target) for every schedule and rule with an envelope input."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for resource in view.template.resources.values():
        if resource.type == "AWS::Scheduler::Schedule":
            target = resource.properties["Target"]
            delivered = json.loads(target["Input"])
            if "task" in delivered:  # not a wake twin's nudge
                found[delivered["task"]] = ("schedule", target)
        elif resource.type == "AWS::Events::Rule":
            for target in resource.properties.get("Targets", []):
                template = target.get("InputTransformer", {}).get("InputTemplate", "")
                if '"task"' in template:
                    filled = template.replace("<id>", '""').replace("<time>", '""')
                    task = json.loads(filled.replace("<aws.events.event.json>", "{}"))["task"]
                    found[task] = ("rule", target)
    return found


def nudged_functions(view: StackView, task: str) -> list[str]:
    """Logical ids of the functions the task's triggers nudge (the waker)."""
    found: list[str] = []
    for resource in view.template.resources.values():
        targets = (
            [resource.properties["Target"]]
            if resource.type == "AWS::Scheduler::Schedule"
            else resource.properties.get("Targets", [])
            if resource.type == "AWS::Events::Rule"
            else []
        )
        for target in targets:
            text = target.get("Input")
            if isinstance(text, str) and json.loads(text).get(NUDGED_BY_KEY) == task:
                found.append(target["Arn"]["Fn::GetAtt"][0])
    return sorted(set(found))


def _nudge(view: StackView, task: str) -> list[str]:
    functions = nudged_functions(view, task)
    if functions and not os.environ.get(_LAMBDA_ENDPOINT_ENV):
        return [
            f"not nudged: {', '.join(functions)} (set {_LAMBDA_ENDPOINT_ENV}: local-deploy "
            "exports it); the wake-up alarm wakes the service instead"
        ]
    client = boto3.client("lambda")
    for function_id in functions:
        client.invoke(
            FunctionName=view.physical[function_id],
            InvocationType="Event",
            Payload=json.dumps({NUDGED_BY_KEY: task}).encode(),
        )
    return [f"nudged {function_id}" for function_id in functions]


def fire(task: str, view: StackView | None = None) -> list[str]:
    """Deliver one trigger of ``task``; returns lines saying what was done."""
    view = view or StackView()
    available = triggers(view)
    if task not in available:
        raise FireError(
            f"'{task}' has no schedule or rule in {view.name}; fire one of: "
            + ", ".join(sorted(available))
            + " (on-demand tasks are enqueued with runtime.producer.enqueue)"
        )
    kind, target = available[task]
    notes: list[str] = []
    if kind == "schedule":
        now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        envelope = json.loads(
            scheduler_delivery(
                target["Input"], execution_id=f"local-{uuid.uuid4()}", scheduled_time=now
            )
        )
        if task == "send-bulk-email":
            notes += _sample_recipients(view, envelope["payload"])
    else:
        event = _scan_result(view, notes) if task == "virus-scan-result" else _bounce(view, notes)
        event["id"] = str(uuid.uuid4())
        event["time"] = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        envelope = json.loads(eventbridge_delivery(target["InputTransformer"], event))
    target_id = target["Arn"]["Fn::GetAtt"][0]
    target_type = view.template.resources[target_id].type
    if target_type == "AWS::SQS::Queue":
        boto3.client("sqs").send_message(
            QueueUrl=view.physical[target_id],
            MessageBody=json.dumps(envelope, separators=(",", ":")),
        )
        notes.append(
            f"fired {task}: {kind} target {target_id} (queue) got envelope {envelope['id']}"
        )
    elif target_type == "AWS::Lambda::Function":
        notes.append(_invoke(view, target_id, envelope))
    else:
        raise FireError(f"{task}: no local stand-in for a {target_type} target")
    return notes + _nudge(view, task)


def _invoke(view: StackView, function_id: str, envelope: Mapping[str, Any]) -> str:
    endpoint = os.environ.get(ENDPOINT_URL_ENV)
    if not endpoint:
        raise FireError(
            f"set {ENDPOINT_URL_ENV} to the local endpoint service (local-deploy prints it)"
        )
    config = boto3.client("lambda").get_function_configuration(
        FunctionName=view.physical[function_id]
    )
    env = {**config.get("Environment", {}).get("Variables", {}), INVOKER_ENDPOINT_URL_ENV: endpoint}
    invocation = invoke(config["Handler"], envelope, env)
    return (
        f"fired {envelope['task']}: the invoker ({function_id}) POSTed envelope "
        f"{envelope['id']} to {endpoint}, answer {invocation['status']}"
    )


def _scan_result(view: StackView, notes: list[str]) -> dict[str, Any]:
    bucket = view.outputs[UPLOADS_BUCKET_OUTPUT]
    key = f"uploads/properties/fired-{datetime.now(UTC):%Y%m%dT%H%M%S%f}.csv"
    s3 = boto3.client("s3")
    version = str(s3.put_object(Bucket=bucket, Key=key, Body=SAMPLE_CSV.encode())["VersionId"])
    s3.put_object_tagging(
        Bucket=bucket,
        Key=key,
        VersionId=version,
        Tagging={"TagSet": [{"Key": "GuardDutyMalwareScanStatus", "Value": "NO_THREATS_FOUND"}]},
    )
    notes.append(
        f"uploaded s3://{bucket}/{key} (version {version}) and tagged it "
        "GuardDutyMalwareScanStatus=NO_THREATS_FOUND, as GuardDuty's scan would"
    )
    event: dict[str, Any] = json.loads(SCAN_SAMPLE.read_text())
    event["detail"]["s3ObjectDetails"].update(bucketName=bucket, objectKey=key, versionId=version)
    return event


def _bounce(view: StackView, notes: list[str]) -> dict[str, Any]:
    table = boto3.resource("dynamodb").Table(view.outputs[TASK_TABLE_OUTPUT])
    items: list[dict[str, Any]] = []
    scan: dict[str, Any] = {
        "FilterExpression": Attr("pk").begins_with("email#")
        & Attr("sk").begins_with("recipient#")
        & Attr("status").eq("sent")
    }
    while True:
        page = table.scan(**scan)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    if not items:
        raise FireError(
            "email-feedback: no email has been sent yet, so there is nothing SES could "
            "bounce; send one first (enqueue send-bulk-email, or --fire send-bulk-email)"
        )
    sent = max(items, key=lambda item: str(item.get("updated_at", "")))
    address, campaign = str(sent["sk"]).removeprefix("recipient#"), str(sent["pk"])[6:]
    event: dict[str, Any] = json.loads(BOUNCE_SAMPLE.read_text())
    event["detail"]["bounce"]["bouncedRecipients"][0]["emailAddress"] = address
    event["detail"]["mail"]["destination"] = [address]
    event["detail"]["mail"]["tags"]["campaign"] = [campaign]
    event["detail"]["mail"]["messageId"] = sent["message_id"]
    notes.append(
        f"a permanent bounce for {address} (campaign {campaign}, message {sent['message_id']})"
    )
    return event


def _sample_recipients(view: StackView, payload: Mapping[str, Any]) -> list[str]:
    """The weekly digest's list and SES template, created when absent (say so)."""
    notes = []
    bucket = view.outputs[UPLOADS_BUCKET_OUTPUT]
    key = f"recipients/{payload['recipients_list']}.csv"
    s3 = boto3.client("s3")
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError:
        s3.put_object(Bucket=bucket, Key=key, Body=f"email\n{SAMPLE_RECIPIENT}\n".encode())
        notes.append(f"created the sample list s3://{bucket}/{key} ({SAMPLE_RECIPIENT})")
    ses = boto3.client("ses")
    with suppress(ses.exceptions.AlreadyExistsException):
        ses.create_template(
            Template={
                "TemplateName": payload["template"],
                "SubjectPart": "Sample",
                "TextPart": "A sample email from the local topology.",
            }
        )
        notes.append(f"created the sample SES template '{payload['template']}'")
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.fire",
        description="Fire a task's schedule or rule in the running local-deploy "
        "(run with local-deploy's exports).",
    )
    parser.add_argument("task")
    parser.add_argument("--stack", default=None, help="stack name (default: the only one)")
    args = parser.parse_args(argv)
    if not os.environ.get("AWS_ENDPOINT_URL"):
        print(
            "error: paste local-deploy's export lines first (AWS_ENDPOINT_URL is not set)",
            file=sys.stderr,
        )
        return 2
    try:
        for line in fire(args.task, StackView(args.stack)):
            print(line)
    except FireError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
