"""The inner test tier against one cold synth of every topology, measured in one run.

Goal: ``pytest -m "not slow"`` takes at most 10x one cold ``python app.py`` of
``-c topology=all`` (a fresh process, so jsii starts cold). Both are timed here, on the
same machine in the same minutes, so the ratio holds even when the machine is loaded.
The tier is timed as one whole ``python -m pytest`` process, start-up and exit included;
``--durations=5`` only adds the report of its slowest five items to the output.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth_time import ROOT, _synth_env, _timed

GOAL = 10.0
SLOWEST = 5
# pytest's closing line, e.g. "762 passed, 1 skipped, 316 deselected in 49.24s"
_COUNTS = re.compile(r"(\d+) (passed|failed|skipped|deselected|errors?|xfailed|xpassed)")
_DURATION = re.compile(r"^\s*\d+\.\d+s (call|setup|teardown)\s+\S+")


def _tier() -> tuple[float, str]:
    """Wall time of the whole tier, and its output."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        "not slow",
        f"--durations={SLOWEST}",
    ]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.stdout.write(done.stdout[-6000:] + done.stderr[-2000:])
        raise SystemExit(f"the inner tier failed (exit {done.returncode}); no ratio")
    return elapsed, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--synths", type=int, default=3, help="cold synths (median)")
    args = parser.parse_args()
    synths = []
    for _ in range(args.synths):
        with tempfile.TemporaryDirectory() as outdir:
            synths.append(_timed([sys.executable, "app.py"], _synth_env("all", outdir)))
    synth = sorted(synths)[len(synths) // 2]
    tier, output = _tier()
    lines = output.splitlines()
    counts = {kind: int(n) for n, kind in _COUNTS.findall(lines[-1] if lines else "")}
    ran = sum(n for kind, n in counts.items() if kind not in ("deselected", "skipped"))
    ratio = tier / synth
    verdict = "met" if ratio <= GOAL else "MISSED"
    print(f"cold synth of all topologies: {synth:.1f} s (median of {len(synths)})")
    print(
        f"inner tier (pytest -m 'not slow'): {tier:.1f} s, {ran} tests run "
        f"({counts.get('deselected', 0)} slow ones deselected)"
    )
    print(f"ratio {ratio:.1f}x (goal <= {GOAL:.0f}x: {verdict})")
    print(f"slowest {SLOWEST} in the tier:")
    for line in [line for line in lines if _DURATION.match(line)][:SLOWEST]:
        print(f"  {line.strip()}")


if __name__ == "__main__":
    main()
