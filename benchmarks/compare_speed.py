"""How long the comparison takes as a user runs it, against another checkout, in one run.

Times whole processes (``python -m comparison``: the default table, and ``--sweep``) on
one cloud assembly, alternating this checkout and ``--against`` run by run so the ratio
holds on a loaded machine, and prints each median and the ratio::

    git worktree add --detach /tmp/before HEAD~1
    python benchmarks/compare_speed.py --against /tmp/before [--cdk-out cdk.out]

A benchmark, not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = {"compare (default table)": (), "compare --sweep": ("--sweep",)}


def timed(checkout: Path, cdk_out: Path, extra: tuple[str, ...]) -> float:
    """Seconds for one ``python -m comparison`` run of ``checkout``'s code."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "comparison", "--cdk-out", str(cdk_out), *extra],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"{checkout}: exit {done.returncode}\n{done.stderr}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cdk-out", type=Path, default=ROOT / "cdk.out")
    parser.add_argument("--against", type=Path, help="another checkout to time alongside")
    args = parser.parse_args()
    checkouts = {"this checkout": ROOT}
    if args.against is not None:
        checkouts["--against"] = args.against.resolve()
    cdk_out = args.cdk_out.resolve()
    for case, extra in CASES.items():
        times: dict[str, list[float]] = {name: [] for name in checkouts}
        for checkout in checkouts.values():  # a warm-up each: imports, page cache
            timed(checkout, cdk_out, extra)
        for _ in range(args.runs):
            for name, checkout in checkouts.items():
                times[name].append(timed(checkout, cdk_out, extra))
        medians = {name: statistics.median(values) for name, values in times.items()}
        line = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in medians.items())
        print(f"{case}: {line} (median of {args.runs})")
        if args.against is not None:
            ratio = medians["this checkout"] / medians["--against"]
            print(f"  this checkout / --against: {ratio:.2f}x")


if __name__ == "__main__":
    main()
