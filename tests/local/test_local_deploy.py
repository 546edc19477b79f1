"""`scripts/local-deploy` deploys a topology into moto and says what it did."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from local import deploy
from tests.local.helpers import PROJECT_ROOT

pytestmark = pytest.mark.slow

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


def test_help_and_a_bad_topology_answer_without_starting_the_cdk() -> None:
    # The topology names come from the contract (stdlib only), not imported with aws_cdk.
    code = (
        "import sys, local.deploy\n"
        "try:\n    local.deploy.parse_args(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'aws_cdk' not in sys.modules and 'jsii' not in sys.modules, 'cdk imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "lambdas" in result.stdout

    started = time.monotonic()
    result = subprocess.run([COMMAND, "lamdas"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "invalid choice: 'lamdas'" in result.stderr
    assert time.monotonic() - started < 15  # no synth, no jsii


def test_the_topologies_offered_are_the_contracts() -> None:
    from runtime.contract.topology import topology_names

    for name in topology_names():
        assert deploy.parse_args([name]).topology == name
    with pytest.raises(SystemExit):
        deploy.parse_args(["AsyncTasks-Lambdas"])  # a stack id is not a topology name


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_busy_port_is_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [COMMAND, "lambdas", "--once", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert f"error: port {port} on 127.0.0.1 is busy" in _one_error_line(result)


def test_a_second_instance_of_a_topology_is_one_line() -> None:
    # GIVEN one instance holding the topology's lock (it is deploying)
    first = subprocess.Popen([COMMAND, "webapp-poller", "--once"], stdout=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        assert first.poll() is None
        # WHEN a second one starts THEN it refuses in one line, naming the first
        result = subprocess.run(
            [COMMAND, "webapp-poller", "--once"], capture_output=True, text=True, timeout=60
        )
        line = _one_error_line(result)
        assert "already running" in line and f"pid {first.pid}" in line, line
    finally:
        first.send_signal(signal.SIGINT)
        assert first.wait(60) == 0


def test_a_missing_dependency_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A virtual environment without moto_server beside its python.
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert deploy.main(["lambdas", "--once"]) == 1
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: moto_server not found beside {sys.executable}; run scripts/setup"]
