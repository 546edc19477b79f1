"""How long sizing the four topologies takes (issue 22: at most 10 s for the shipped
workload, 30 s for a busy one over 1M tasks a month), beside the plain compare.

    .venv/bin/python benchmarks/sizing_speed.py [CDK_OUT]   # default: cdk.out

For each workload, in one run: the sizing search alone (``size_options``: both cores when
it can fork, as ``compare`` runs it), the plain comparison of the templates as
synthesized (``compare --as-synthesized``'s report, no sweep) and the whole sized report,
each the best of two runs, with the sizing's ratio to its goal (below 1.0 meets it). A
benchmark, not a test: timings depend on the machine.
"""

from __future__ import annotations

import os
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

from comparison.build import build_report, size_options
from comparison.inputs.assumptions import DEFAULT_ASSUMPTIONS
from comparison.inputs.prices import known_regions, load_price_table
from comparison.inputs.scenario import Scenario
from comparison.inputs.templates import StackTemplate, load_templates
from comparison.inputs.workload import DEFAULT_WORKLOAD_PATH, load_workload
from comparison.model.topology import topology_models

BUSY = Path(__file__).resolve().parent.parent / "tests/comparison/fixtures/workloads/busy.toml"
GOALS = {"shipped": (DEFAULT_WORKLOAD_PATH, 10.0), "busy": (BUSY, 30.0)}


def best_of(runs: int, action: Callable[[], object]) -> float:
    return min(timeit.repeat(action, number=1, repeat=runs))


def time_workload(name: str, path: Path, goal: float, templates: list[StackTemplate]) -> str:
    """One row: the sizing, plain and sized-report times for the workload at ``path``."""
    workload = load_workload(path, known_regions=known_regions())
    models = topology_models(templates, workload, DEFAULT_ASSUMPTIONS)
    table = load_price_table(workload.region)

    def scenario() -> Scenario:  # a new one per run: its memo starts empty
        return Scenario(workload=workload, prices=table, assumptions=DEFAULT_ASSUMPTIONS)

    sizing = best_of(2, lambda: size_options(models, scenario()))
    plain = best_of(2, lambda: build_report(models, scenario(), size=False))
    sized = best_of(2, lambda: build_report(models, scenario()))
    return (
        f"{name:<9} {workload.volume_per_month:>12,.0f} {sizing:>9.1f} {goal:>7.0f} "
        f"{sizing / goal:>6.2f} {plain:>8.1f} {sized:>15.1f}"
    )


def main() -> None:
    cdk_out = Path(sys.argv[1] if len(sys.argv) > 1 else "cdk.out")
    templates = load_templates(cdk_out)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {load} (other work slows every figure)")
    print(
        f"{'workload':<9} {'tasks/month':>12} {'sizing s':>9} {'goal s':>7} {'ratio':>6} "
        f"{'plain s':>8} {'sized report s':>15}"
    )
    for name, (path, goal) in GOALS.items():
        print(time_workload(name, path, goal, templates), flush=True)


if __name__ == "__main__":
    main()
