"""Child processes for the local topology: started out of the terminal's reach, stopped
by us, so Ctrl-C reaches only local-deploy and every child stops in order, quietly.

Each child runs in a session of its own (``start_new_session``): the terminal's SIGINT
goes to local-deploy alone, which then stops the children with the signal ECS would
send (SIGTERM) and a bounded wait.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def venv_executable(name: str) -> str:
    """A console script installed beside this interpreter (moto_server, gunicorn)."""
    return str(Path(sys.executable).with_name(name))


class Child:
    """One child process whose output is prefixed with ``label`` on our stdout."""

    def __init__(
        self,
        label: str,
        command: Sequence[str],
        env: Mapping[str, str],
        *,
        quiet: bool = False,
    ) -> None:
        self.label = label
        self.command = list(command)
        self.process = subprocess.Popen(
            self.command,
            cwd=PROJECT_ROOT,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._pump = threading.Thread(
            target=_pump, args=(label, self.process.stdout, quiet), daemon=True
        )
        self._pump.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, signum: int = signal.SIGTERM) -> None:
        if self.alive():
            self.process.send_signal(signum)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait up to ``timeout`` (the drain), then SIGKILL."""
        self.signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._pump.join(2)
        return code


def _pump(label: str, stream: IO[str] | None, quiet: bool) -> None:
    if stream is None:
        return
    for line in stream:
        if not quiet:
            sys.stdout.write(f"[{label}] {line}")
            sys.stdout.flush()
