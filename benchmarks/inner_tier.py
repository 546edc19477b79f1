"""The inner test tier against one cold synth of every topology, measured in one run.

Goal: ``pytest -m "not slow"`` takes at most 10x one cold ``python app.py`` of
``-c topology=all`` (a fresh process, so jsii starts cold). Both are timed here, on the
same machine in the same minutes, so the ratio holds even when the machine is loaded.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth_time import _synth_env, _timed

GOAL = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--synths", type=int, default=3, help="cold synths (median)")
    args = parser.parse_args()
    synths = []
    for _ in range(args.synths):
        with tempfile.TemporaryDirectory() as outdir:
            synths.append(_timed([sys.executable, "app.py"], _synth_env("all", outdir)))
    synth = sorted(synths)[len(synths) // 2]
    tier = _timed(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow"],
        {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
    )
    ratio = tier / synth
    verdict = "met" if ratio <= GOAL else "MISSED"
    print(f"cold synth of all topologies: {synth:.1f} s (median of {len(synths)})")
    print(f"inner tier (pytest -m 'not slow'): {tier:.1f} s")
    print(f"ratio {ratio:.1f}x (goal <= {GOAL:.0f}x: {verdict})")


if __name__ == "__main__":
    main()
