"""A moto server subprocess on 127.0.0.1 and the environment that points boto3 at it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Final

ACCOUNT = "123456789012"  # moto's default account
REGION: Final = "eu-west-2"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmulatorError(RuntimeError):
    """The emulator could not start; the message is one line."""


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def aws_env(endpoint_url: str) -> dict[str, str]:
    """Dummy credentials and the endpoint: every boto3 client then talks to moto."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


class MotoServer:
    """``moto_server`` as a subprocess, so workers and web apps can share it."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> MotoServer:
        executable = Path(sys.executable).with_name("moto_server")
        if not executable.exists():
            raise EmulatorError(
                f"moto_server not found beside {sys.executable}; run scripts/setup "
                "(it installs the pinned moto[server])"
            )
        if not port_is_free(self.port):
            raise EmulatorError(
                f"port {self.port} on 127.0.0.1 is busy; pick another with --port N, "
                "or leave --port out for a free one"
            )
        self._process = subprocess.Popen(
            [str(executable), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Out of the terminal's process group: Ctrl-C reaches local-deploy, which
            # stops the server itself (no traceback from the server's own handler).
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1).read()
                return self
            except OSError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    self.stop()
                    raise EmulatorError(
                        f"moto_server did not start on 127.0.0.1:{self.port} within {timeout:.0f}s"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
