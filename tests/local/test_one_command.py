"""What a new user does: ``scripts/local-deploy <topology>``, enqueue from another
shell with the printed exports, see the task run, Ctrl-C.

Each test runs the command as a subprocess, waits (bounded) for its ``ready`` line,
enqueues a report through ``runtime.producer.enqueue`` in another process with only
the printed exports, waits for the report objects in the emulator's bucket, sends
SIGINT and asserts exit 0 with no traceback. The time from the command to the first
processed task is printed (``pytest -s``).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date

import boto3
import pytest

from tests.local.helpers import PROJECT_ROOT

pytestmark = pytest.mark.slow

COMMAND = str(PROJECT_ROOT / "scripts" / "local-deploy")
READY_TIMEOUT = 150  # synth + deploy + consumers, on 2 loaded cores
TASK_TIMEOUT = 60
EXPORT = re.compile(r"^\s*export (\w+)=(.*)$")


@dataclass
class Running:
    process: subprocess.Popen[str]
    started: float
    lines: list[str] = field(default_factory=list)
    exports: dict[str, str] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, needle: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if needle in line:
                    return line
            if self.process.poll() is not None and needle not in self.output:
                break
            time.sleep(0.2)
        raise AssertionError(f"no '{needle}' within {timeout:.0f}s:\n{self.output[-4000:]}")


def _read(running: Running) -> None:
    assert running.process.stdout is not None
    for line in running.process.stdout:
        running.lines.append(line)


@pytest.fixture
def launch() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for running in started:  # never leave a deploy behind, even on a failed assert
        if running.process.poll() is None:
            running.process.send_signal(signal.SIGINT)
            try:
                running.process.wait(60)
            except subprocess.TimeoutExpired:
                running.process.kill()
                running.process.wait()


def start(launch: list[Running], *args: str) -> Running:
    process = subprocess.Popen(
        [COMMAND, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=PROJECT_ROOT,
    )
    running = Running(process, time.monotonic())
    launch.append(running)
    threading.Thread(target=_read, args=(running,), daemon=True).start()
    running.wait_for("Ctrl-C to stop", READY_TIMEOUT)
    for line in running.lines:
        if (match := EXPORT.match(line)) and match.group(1) != "PATH":
            running.exports[match.group(1)] = shlex.split(match.group(2))[0]
    return running


def enqueue_from_another_shell(exports: dict[str, str], task: str, payload: object) -> str:
    """A fresh process with only the printed exports (and PATH), as a user's shell."""
    code = (
        "import json, sys; from runtime.producer import enqueue; "
        "print(enqueue(sys.argv[1], json.loads(sys.argv[2])))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, task, json.dumps(payload)],
        env={"PATH": os.environ["PATH"], **exports},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def report_keys(exports: dict[str, str], prefix: str) -> list[str]:
    s3 = boto3.client(
        "s3",
        endpoint_url=exports["AWS_ENDPOINT_URL"],
        region_name=exports["AWS_REGION"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    response = s3.list_objects_v2(Bucket=exports["ASYNC_TASKS_BUCKET"], Prefix=prefix)
    return sorted(item["Key"] for item in response.get("Contents", []))


def stop_cleanly(running: Running) -> None:
    running.process.send_signal(signal.SIGINT)
    code = running.process.wait(90)
    time.sleep(0.3)  # the reader thread catches the last lines
    assert code == 0, running.output[-3000:]
    assert "Traceback" not in running.output, running.output[-5000:]
    assert running.output.rstrip().endswith("stopped"), running.output[-1000:]


@pytest.mark.parametrize(
    "topology", ["lambdas", "worker-service", "webapp-poller", "private-endpoints"]
)
def test_one_command_runs_the_topology_and_a_task_enqueued_from_another_shell(
    launch: list[Running], topology: str
) -> None:
    # GIVEN the one command, with (for worker-service) half-second simulated minutes
    extra = ["--minute-seconds", "0.5"] if topology == "worker-service" else []
    running = start(launch, topology, *extra)
    ready = time.monotonic() - running.started
    for name in ("AWS_ENDPOINT_URL", "ASYNC_TASKS_TABLE", "ASYNC_TASKS_BUCKET"):
        assert name in running.exports, running.output[-3000:]

    # WHEN another shell enqueues a report with the printed exports alone
    today = date.today().isoformat()
    task_id = enqueue_from_another_shell(
        running.exports, "generate-report", {"from": today, "to": today}
    )
    assert task_id

    # THEN the consumers the command started run it: the report objects appear
    prefix = f"reports/{today}_{today}/"
    deadline = time.monotonic() + TASK_TIMEOUT
    while len(report_keys(running.exports, prefix)) < 2:
        assert time.monotonic() < deadline, running.output[-4000:]
        assert running.process.poll() is None, running.output[-4000:]
        time.sleep(0.3)
    first_task = time.monotonic() - running.started
    print(f"\n{topology}: ready {ready:.1f}s, first task processed {first_task:.1f}s")
    assert report_keys(running.exports, prefix) == [
        f"{prefix}properties.csv",
        f"{prefix}summary.json",
    ]
    if topology == "worker-service":
        # it woke from zero, and goes back to zero when idle. With half-second minutes
        # the alarm may beat the nudge; tests/local/test_wake_on_enqueue.py shows the
        # waker alone, with minutes too long for the alarm to act.
        woken = ("waker: nudged (the producer): desired 0 -> 1", "by wake-up alarm")
        assert any(line in running.output for line in woken), running.output[-4000:]
        running.wait_for("-> desired 0", 45)

    # WHEN Ctrl-C: THEN everything stops, exit 0, no traceback
    stop_cleanly(running)


def fire_from_another_shell(exports: dict[str, str], task: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local.fire", task],
        env={"PATH": os.environ["PATH"], **exports},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def table_items(exports: dict[str, str], prefix: str) -> list[Mapping[str, object]]:
    table = boto3.resource(
        "dynamodb",
        endpoint_url=exports["AWS_ENDPOINT_URL"],
        region_name=exports["AWS_REGION"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    ).Table(exports["ASYNC_TASKS_TABLE"])
    return [i for i in table.scan()["Items"] if str(i["pk"]).startswith(prefix)]


def wait_for_items(
    running: Running, prefix: str, *tests: str, sk: str = "", timeout: float = 90
) -> None:
    """Until an item whose pk starts with ``prefix`` (and sk with ``sk``) holds each text."""

    def found() -> bool:
        return any(
            str(i["sk"]).startswith(sk) and all(t in json.dumps(i, default=str) for t in tests)
            for i in table_items(running.exports, prefix)
        )

    deadline = time.monotonic() + timeout
    while not found():
        assert time.monotonic() < deadline, f"no {prefix} {tests}:\n{running.output[-4000:]}"
        time.sleep(0.3)


@pytest.mark.parametrize("topology", ["lambdas", "private-endpoints"])
def test_fire_delivers_each_trigger_as_its_schedule_or_rule_would(
    launch: list[Running], topology: str
) -> None:
    # GIVEN the topology running, a scan result fired with the command itself
    running = start(launch, topology, "--fire", "virus-scan-result")
    assert "tagged it GuardDutyMalwareScanStatus=NO_THREATS_FOUND" in running.output

    # THEN the scan result marked the sample clean and its bulk upload loaded the rows
    wait_for_items(running, "property#200", "record")

    # WHEN email-feedback is fired before any email was sent: one line says what to do
    early = fire_from_another_shell(running.exports, "email-feedback")
    assert early.returncode == 1
    assert early.stderr.strip().splitlines() == [
        "error: email-feedback: no email has been sent yet, so there is nothing SES could "
        "bounce; send one first (enqueue send-bulk-email, or --fire send-bulk-email)"
    ]

    # WHEN the weekly digest's schedule fires, then SES's bounce for what it sent
    sent = fire_from_another_shell(running.exports, "send-bulk-email")
    assert sent.returncode == 0, sent.stderr
    # the recipient's own item (the campaign's chunk items carry a status too)
    wait_for_items(running, "email#", '"status": "sent"', sk="recipient#")
    bounced = fire_from_another_shell(running.exports, "email-feedback")
    assert bounced.returncode == 0, bounced.stderr + running.output[-3000:]

    # THEN the recipient is marked bounced and suppressed
    wait_for_items(running, "email#", '"status": "bounced"', sk="recipient#")
    wait_for_items(running, "suppressed#subscriber@example.com", "email")
    stop_cleanly(running)


def test_ctrl_c_during_the_deploy_stops_without_a_traceback() -> None:
    process = subprocess.Popen(
        [COMMAND, "webapp-poller"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(4)  # synthesizing: the CDK's JavaScript process is running
    assert process.poll() is None
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Traceback" not in out + err and "node:" not in err, err
    assert err.strip() == "stopped", err
