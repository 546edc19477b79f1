"""One comparison's inputs besides the topologies: the workload, the prices, the
assumptions and the free-tier choice. Every stage after the model takes one Scenario.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field, replace

from comparison.inputs.assumptions import Assumptions
from comparison.inputs.prices import PriceTable
from comparison.inputs.workload import Workload


@dataclass(frozen=True, kw_only=True)
class Scenario:
    workload: Workload
    prices: PriceTable
    assumptions: Assumptions
    free_tier: bool = False
    memo: dict[Hashable, object] = field(default_factory=dict, compare=False, repr=False)
    """Results of pure functions of these inputs (e.g. a task's arrivals), shared by the
    topologies, the sweep and the search of one comparison, and by nothing else."""

    def with_workload(self, workload: Workload) -> Scenario:
        """The same prices and assumptions under another workload (a sweep's volume, a
        search's probe)."""
        return replace(self, workload=workload)

    def with_assumptions(self, assumptions: Assumptions) -> Scenario:
        return replace(self, assumptions=assumptions)
