"""The pipeline, run once: templates and a workload in, one :class:`Report` out.

inputs → model (:func:`comparison.model.topology.topology_models`) → simulate → cost
(:func:`comparison.cost.estimate.compare`) → decide
(:func:`comparison.decide.decision.decide`, the sweep, what would change) → size
(:func:`comparison.size.search.size_all`: each option sized for the workload, which the
decision, the sweep and the search then compare; the templates as synthesized are the
reference) → one ``Report``. Every format in :mod:`comparison.render` is a pure function
of that Report, so no renderer decides anything and the formats cannot disagree.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

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
from comparison.model.routing import ConsumerKind
from comparison.model.topology import TopologyModel
from comparison.size.files import DEFAULT_SIZING_DIR, option_file, sizing_documents
from comparison.size.search import SizedOption, size_all, size_topology

FORMAT_VERSION = "2"
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
    sizing: tuple[SizedOption, ...] = ()
    """Each option sized for the workload (empty when the templates were compared as
    synthesized): ``comparison`` then holds the sized options."""
    reference: Comparison | None = None
    """The templates as synthesized (the settings shipped): a reference, not the verdict."""
    reference_decision: Decision | None = None
    sizing_dir: str = DEFAULT_SIZING_DIR
    """Where the sizing files are written (``compare --sizing-dir``): the ADR's deploy
    command names the chosen option's file there."""

    @classmethod
    def of(
        cls,
        comparison: Comparison,
        changes: WhatWouldChange | None = None,
        notes: tuple[str, ...] = (),
        *,
        sizing: tuple[SizedOption, ...] = (),
        reference: Comparison | None = None,
        sizing_dir: str = DEFAULT_SIZING_DIR,
    ) -> Report:
        """The Report of a finished comparison: the decision is taken here, once."""
        bindings = {s.label: s.binding for s in sizing if s.binding is not None}
        return cls(
            comparison=comparison,
            decision=decide(comparison, bindings),
            changes=changes,
            notes=notes,
            sizing=sizing,
            reference=reference,
            reference_decision=decide(reference) if reference is not None else None,
            sizing_dir=sizing_dir,
        )

    def sized(self, label: str) -> SizedOption | None:
        return next((s for s in self.sizing if s.label == label), None)

    def sizing_files(self) -> dict[str, dict[str, Any]]:
        """File name -> sizing document, for ``sizing_dir``: each sized option, and all."""
        workload = self.comparison.workload
        return sizing_documents(
            self.sizing,
            task_memory={task.name: task.memory_mib for task in workload.tasks},
            description=(
                f"Sized by the comparison for {workload.volume_per_month:,.0f} tasks a month "
                f"in {workload.region}: the cheapest sizing of each option that keeps up and "
                "meets every max_wait (docs/comparison.md, Sizing)"
            ),
            chosen=self.decision.chosen,
        )

    def deploy_command(self, label: str) -> str:
        """The command that deploys ``label`` at its sizing (as shipped if it has none)."""
        option = self.sized(label)
        command = f"npx cdk deploy -c topology={label}"
        if option is not None and option.sizing is not None:
            command += f" -c sizing={self.sizing_dir}/{option_file(label)}"
        return command

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


def _fork_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))


def size_options(models: Sequence[TopologyModel], scenario: Scenario) -> tuple[SizedOption, ...]:
    """Each option sized for the scenario's workload, on two cores when it can fork."""
    if not _can_fork() or len(models) < 2:
        return size_all(models, scenario)
    # The heaviest searches (the Fargate fleets) first, so the two cores finish together.
    order = sorted(range(len(models)), key=lambda i: (models[i].kind is ConsumerKind.LAMBDA, i))
    with _fork_pool(2) as pool:
        futures = {
            i: pool.submit(size_topology, models[i], replace(scenario, memo={})) for i in order
        }
        return tuple(futures[i].result() for i in range(len(models)))


def build_report(
    models: Sequence[TopologyModel],
    scenario: Scenario,
    *,
    sweep: bool = False,
    changes: bool = False,
    size: bool = True,
    reference_models: Sequence[TopologyModel] | None = None,
    sizing_dir: str = DEFAULT_SIZING_DIR,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Size every option for the workload (unless ``size`` is off), simulate and cost the
    sized options and the templates as synthesized, decide once, and add the sweep and
    the search for what would change the decision when asked. The sweep and the search
    hold each option at its sizing (what would be deployed); an option no sizing meets
    keeps its template's settings there. ``reference_models`` are the settings shipped,
    reported as the reference (default: ``models``), for a report from sized templates."""
    say = progress or (lambda _message: None)
    shipped = tuple(models)
    sized: tuple[SizedOption, ...] = ()
    if size:
        say("sizing each option for the workload")
        sized = size_options(shipped, scenario)
        models = tuple(option.model for option in sized)
    pending = None
    if changes and _can_fork():
        # The search is independent of the report's own simulation: run it beside it, on
        # the second core, so asking for it costs little wall time.
        pool = _fork_pool(1)
        # The pool pickles its arguments in a thread of its own while this process goes
        # on filling the scenario's memo: hand it a scenario with a memo of its own.
        pending = pool.submit(_search, models, replace(scenario, memo={}))
        pool.shutdown(wait=False)
    say("simulating the topologies")
    comparison = compare(models, scenario)
    reference = compare(reference_models or shipped, scenario) if size else None
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
    return Report.of(
        comparison, search, notes, sizing=sized, reference=reference, sizing_dir=sizing_dir
    )
