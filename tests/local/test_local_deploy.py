"""`scripts/local-deploy` deploys a topology into moto and says what it did."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from urllib.parse import urlsplit

from tests.local.helpers import PROJECT_ROOT

COMMAND = str(PROJECT_ROOT / "scripts" / "local-deploy")


def test_one_command_serves_the_lambdas_topology_until_ctrl_c_and_prints_what_to_use() -> None:
    # GIVEN the one command, running for the lambdas topology
    process = subprocess.Popen(
        [COMMAND, "lambdas"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while not lines or "Ctrl-C to stop" not in lines[-1]:
        line = process.stdout.readline()
        assert line and time.monotonic() < deadline, "".join(lines)
        lines.append(line)
    out = "".join(lines)
    endpoint = out.split("export AWS_ENDPOINT_URL=")[1].split()[0]
    address = urlsplit(endpoint)

    # THEN it deployed, listed what moto skipped and how to point the runtime at it
    assert "AsyncTasks-Lambdas: CREATE_COMPLETE" in out
    assert "AWS::Scheduler::Schedule" in out.split("skipped by the emulator")[1]
    assert "DISABLED TasksgeneratereportEventSource" in out
    for variable in (
        "ASYNC_TASKS_QUEUE_URL_GENERATE_REPORT=",
        "ASYNC_TASKS_TABLE=",
        "ASYNC_TASKS_BUCKET=",
        "ASYNC_TASKS_EMAIL_SENDER=",
    ):
        assert f"export {variable}" in out
    socket.create_connection((address.hostname, address.port), 2).close()

    # WHEN Ctrl-C: THEN it exits 0 and the emulator is gone
    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0
    process.communicate()
    try:
        socket.create_connection((address.hostname, address.port), 1).close()
        still_listening = True
    except OSError:
        still_listening = False
    assert not still_listening


def test_once_deploys_an_ecs_topology_and_reports_the_emulated_custom_resource() -> None:
    result = subprocess.run(
        [COMMAND, "worker-service", "--once"], capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert "AsyncTasks-WorkerService: CREATE_COMPLETE" in result.stdout
    assert "EMULATED custom resource NetworkVpcRestrictDefaultSecurityGroup" in result.stdout
    assert "export ASYNC_TASKS_QUEUE_URL=" in result.stdout


def test_unknown_topology_is_refused_with_the_valid_names() -> None:
    result = subprocess.run([COMMAND, "kubernetes", "--once"], capture_output=True, text=True)

    assert result.returncode == 2
    assert "lambdas" in result.stderr and "worker-service" in result.stderr
