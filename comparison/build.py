"""The pipeline, run once: templates and a workload in, one :class:`Report` out.

inputs → model (:func:`comparison.model.topology.topology_models`) → simulate → cost
(:func:`comparison.cost.estimate.compare`) → decide
(:func:`comparison.decide.decision.decide`, the sweep, what would change) → one
``Report``. Every format in :mod:`comparison.render` is a pure function of that Report,
so no renderer decides anything and the formats cannot disagree.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

from comparison.cost.estimate import Comparison, Sweep, compare
from comparison.decide.decision import (
    Decision,
    WhatWouldChange,
    decide,
    evaluator,
    what_would_change,
)
from comparison.decide.sweep import chosen_bands, with_sweep
from comparison.inputs.scenario import Scenario
from comparison.inputs.templates import missing_topologies
from comparison.model.topology import TopologyModel

FORMAT_VERSION = "1"
"""The JSON interface's version (comparison/render/report.schema.json): a new field adds
nothing here; a field renamed or removed, or a meaning changed, raises it."""


@dataclass(frozen=True, kw_only=True)
class Report:
    comparison: Comparison
    decision: Decision
    changes: WhatWouldChange | None
    """What would change the decision (None when it was not searched)."""
    notes: tuple[str, ...] = ()
    """Lines every format prints first: what the report leaves out and why."""

    @classmethod
    def of(
        cls,
        comparison: Comparison,
        changes: WhatWouldChange | None = None,
        notes: tuple[str, ...] = (),
    ) -> Report:
        """The Report of a finished comparison: the decision is taken here, once."""
        return cls(comparison=comparison, decision=decide(comparison), changes=changes, notes=notes)

    @property
    def sweep(self) -> Sweep | None:
        return self.comparison.sweep

    @property
    def bands(self) -> dict[str, list[tuple[float, float]]]:
        """Per option, the monthly volumes where the decision picks it: the sweep's
        samples, with the boundary the search found where it found one."""
        if self.sweep is None:
            return {}
        flips: list[tuple[float, str | None]] = []
        if self.changes is not None:
            volume = self.changes.of("volume")
            base = self.comparison.workload.volume_per_month
            flips = [(base * f.factor, f.becomes) for f in (volume.lower, volume.higher) if f]
        return chosen_bands(self.sweep, flips)

    @property
    def cheapest_by_cost(self) -> str | None:
        """The cheapest complete option that keeps up, ignoring the latency targets: not
        the decision, which also asks for every ``max_wait`` to be met."""
        return self.comparison.cheapest


def _search(models: Sequence[TopologyModel], scenario: Scenario) -> WhatWouldChange:
    return what_would_change(scenario.workload, evaluator(models, scenario))


def _can_fork() -> bool:
    """A second core, and no other thread whose locks a forked child could inherit held."""
    return (
        (os.cpu_count() or 1) > 1
        and threading.active_count() == 1
        and "fork" in multiprocessing.get_all_start_methods()
    )


def build_report(
    models: Sequence[TopologyModel],
    scenario: Scenario,
    *,
    sweep: bool = False,
    changes: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Simulate and cost every topology, decide once, and add the sweep and the search for
    what would change the decision when asked. The sweep and the search reuse ``models``
    (read once from the templates): their workloads keep the task names."""
    say = progress or (lambda _message: None)
    pending = None
    if changes and _can_fork():
        # The search is independent of the report's own simulation: run it beside it, on
        # the second core, so asking for it costs little wall time.
        pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
        # The pool pickles its arguments in a thread of its own while this process goes
        # on filling the scenario's memo: hand it a scenario with a memo of its own.
        pending = pool.submit(_search, models, replace(scenario, memo={}))
        pool.shutdown(wait=False)
    say("simulating the topologies")
    comparison = compare(models, scenario)
    if sweep:
        comparison = with_sweep(comparison, models, scenario, progress=progress)
    search = None
    if changes:
        say("searching what would change the decision")
        search = pending.result() if pending is not None else _search(models, scenario)
    missing = missing_topologies([m.stack_id for m in models])
    notes = (
        (
            f"Only {len(models)} of the {len(models) + len(missing)} topologies were "
            f"synthesized; not compared: {', '.join(missing)}. Run "
            "`npx cdk synth -c topology=all` to compare them all.",
        )
        if missing
        else ()
    )
    return Report.of(comparison, search, notes)
