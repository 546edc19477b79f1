"""How long `compare --sweep` takes for the four topologies, against its 3 s goal.

    .venv/bin/python benchmarks/compare_sweep.py [CDK_OUT]   # default: cdk.out

Prints the best of three runs of the default report and of the sweep, and their ratio
to the goal (below 1.0 meets it). A benchmark, not a test: timings depend on the machine.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from comparison.cost.estimate import compare
from comparison.decide.sweep import with_sweep
from comparison.inputs.assumptions import DEFAULT_ASSUMPTIONS
from comparison.inputs.prices import known_regions, load_price_table
from comparison.inputs.scenario import Scenario
from comparison.inputs.templates import load_templates
from comparison.inputs.workload import DEFAULT_WORKLOAD_PATH, load_workload
from comparison.model.topology import topology_models

GOAL_SECONDS = 3.0


def best_of(runs: int, action) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    cdk_out = Path(sys.argv[1] if len(sys.argv) > 1 else "cdk.out")
    workload = load_workload(DEFAULT_WORKLOAD_PATH, known_regions=known_regions())
    models = topology_models(load_templates(cdk_out), workload, DEFAULT_ASSUMPTIONS)
    table = load_price_table(workload.region)

    def scenario() -> Scenario:  # a new one per run: its memo of arrivals starts empty
        return Scenario(workload=workload, prices=table, assumptions=DEFAULT_ASSUMPTIONS)

    def report():  # type: ignore[no-untyped-def]
        return compare(models, scenario())

    def swept() -> None:
        with_sweep(report(), models, scenario())

    plain, full = best_of(3, report), best_of(3, swept)
    print(f"report: {plain:.2f} s")
    print(f"report + sweep ({len(models)} topologies): {full:.2f} s")
    print(f"ratio to the {GOAL_SECONDS:g} s goal: {full / GOAL_SECONDS:.2f}")


if __name__ == "__main__":
    main()
