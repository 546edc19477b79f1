"""The decision: the cheapest option that keeps up and meets the workload's latency targets,
why, and what would change it.

An option is **eligible** when it is complete (something processes every task), keeps up
with the volume (see :mod:`comparison.simulate.capacity`), can run every task the workload runs
(a Lambda function stops at 15 minutes) and meets every latency target the workload
states (``max_wait`` per task, against that task type's simulated p95 wait). The
recommendation is the cheapest eligible option.

:func:`what_would_change` searches, one input at a time, for the value at which the
recommendation flips: the volume (x0.1..x100 of the workload's, the mix kept), every
task's duration (x0.25..x4) and the network choice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from comparison.cost.estimate import Comparison, TopologyReport, monthly_cost
from comparison.inputs.assumptions import DAYS_PER_MONTH, Assumptions
from comparison.inputs.scenario import Scenario
from comparison.inputs.workload import Network, Workload
from comparison.model.resources import FunctionModel
from comparison.model.routing import ConsumerKind
from comparison.model.topology import TopologyModel
from comparison.simulate.latency import LatencySummary
from comparison.units import seconds
from runtime.catalogue import CATALOGUE, LAMBDA_MAX_DURATION_SECONDS

VOLUME_RANGE = (0.1, 100.0)
DURATION_RANGE = (0.25, 4.0)
# Grid steps per factor of 10 (volume) and of 2 (duration), then bisection on log axes:
# 4 halvings of a half-decade place a flip within 7.5 %, finer than the simulation's p95
# moves between neighbouring inputs (15 %, tests/comparison/test_stability.py).
_VOLUME_STEPS_PER_DECADE = 2
_DURATION_STEPS_PER_DOUBLING = 1
_BISECTIONS = 4
# An option is simulated in the search only when its idle cost, less this margin, is below
# the current choice's cost (a few usage lines, such as idle receives, may shrink as work
# arrives; tests/comparison/test_adr.py checks the pruned search against the full one).
_FLOOR_MARGIN = 0.8


@dataclass(frozen=True, kw_only=True)
class Miss:
    """A latency target an option misses: the task's p95 wait is above its ``max_wait``."""

    task: str
    p95_seconds: float
    target_seconds: float


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """One option judged against the workload."""

    label: str
    cost: float | None
    """Monthly increment over the baseline; None when it cannot keep up."""
    idle: float
    complete: bool
    keeps_up: bool
    too_long: tuple[str, ...]
    """Tasks the workload runs for as long as the timeout of the Lambda function that
    runs them, or longer (at most 15 minutes)."""
    misses: tuple[Miss, ...]
    cannot_meet: str | None = None
    """The limit that binds when no sizing of the option meets the workload."""
    spread: float = 0.0
    """The cost's 95 % half-width in dollars (the simulated days' variation)."""

    @property
    def eligible(self) -> bool:
        return (
            self.cannot_meet is None
            and self.complete
            and self.keeps_up
            and not self.too_long
            and not self.misses
        )

    @property
    def why_not(self) -> str:
        """Why the option is not eligible ('' when it is)."""
        if self.cannot_meet is not None:
            return f"cannot meet the workload at any size: {self.cannot_meet}"
        if not self.complete:
            return "incomplete: nothing processes some tasks"
        if not self.keeps_up:
            return "cannot keep up with the volume"
        if self.too_long:
            return (
                f"{', '.join(self.too_long)} run as long as the timeout of the Lambda "
                "function that runs them, or longer"
            )
        if self.misses:
            return "misses the latency target: " + "; ".join(
                f"{m.task} p95 wait {seconds(m.p95_seconds)} > max_wait {seconds(m.target_seconds)}"
                for m in self.misses
            )
        return ""


# A lead under either of these does not decide on cost (issue: a $2.65 lead is noise).
MARGIN_DOLLARS = 5.0
MARGIN_SHARE = 0.10


@dataclass(frozen=True, kw_only=True)
class Margin:
    """How far ahead the chosen option is, and whether cost decides."""

    lead: float
    """The runner-up's monthly cost less the chosen option's."""
    threshold: float
    """The lead cost must exceed to decide: the larger of $5, 10 % of the runner-up's
    cost and the two costs' spreads added."""
    contenders: tuple[str, ...]
    """The chosen option and every eligible option within the threshold of it."""

    @property
    def decides(self) -> bool:
        return self.lead > self.threshold

    @property
    def reason(self) -> str:
        """Why cost does or does not decide, in a sentence."""
        rule = (
            f"the larger of ${MARGIN_DOLLARS:g} a month, {MARGIN_SHARE:.0%} of the runner-up's "
            "cost and the costs' spreads"
        )
        if self.decides:
            return (
                f"Cost decides: the lead of ${self.lead:,.2f} a month is above "
                f"${self.threshold:,.2f} ({rule})."
            )
        return (
            f"Cost does not decide: the lead of ${self.lead:,.2f} a month is within "
            f"${self.threshold:,.2f} ({rule}). Decide between {', '.join(self.contenders)} on "
            "the ADR's other grounds: retries, loss on restart, load on the web app and code "
            "changes."
        )


def _threshold(chosen: Verdict, other: Verdict) -> float:
    return max(MARGIN_DOLLARS, MARGIN_SHARE * (other.cost or 0.0), chosen.spread + other.spread)


@dataclass(frozen=True, kw_only=True)
class Decision:
    chosen: str | None
    """The cheapest eligible option; None when none is eligible."""
    ranked: tuple[Verdict, ...]
    """Eligible options by cost, then the others by cost (those without one last)."""
    targets: tuple[tuple[str, float], ...]
    """The workload's latency targets: (task, max_wait seconds), for the tasks it runs."""

    def verdict(self, label: str) -> Verdict:
        return next(v for v in self.ranked if v.label == label)

    @property
    def chosen_verdict(self) -> Verdict | None:
        return self.verdict(self.chosen) if self.chosen else None

    @property
    def runner_up(self) -> Verdict | None:
        eligible = [v for v in self.ranked if v.eligible]
        return eligible[1] if len(eligible) > 1 else None

    @property
    def margin(self) -> Margin | None:
        """The chosen option's lead over the runner-up; None without both."""
        chosen, runner = self.chosen_verdict, self.runner_up
        if chosen is None or runner is None or chosen.cost is None or runner.cost is None:
            return None
        contenders = [chosen.label] + [
            v.label
            for v in self.ranked
            if v.eligible
            and v is not chosen
            and v.cost is not None
            and v.cost - chosen.cost <= _threshold(chosen, v)
        ]
        return Margin(
            lead=runner.cost - chosen.cost,
            threshold=_threshold(chosen, runner),
            contenders=tuple(contenders),
        )

    @property
    def cost_decides(self) -> bool:
        """False when the chosen option's lead is too small to choose on cost."""
        margin = self.margin
        return margin is None or margin.decides


def time_limits(model: TopologyModel) -> dict[str, float]:
    """Per task run by a Lambda function, the longest run it allows: the function's
    template timeout, at most Lambda's 15 minutes ("Configure Lambda function timeout")."""
    return {
        task: min(consumer.resource.timeout_seconds, LAMBDA_MAX_DURATION_SECONDS)
        for consumer in model.routing.consumers
        if isinstance(consumer.resource, FunctionModel)
        for task in consumer.tasks
    }


def judge(
    model: TopologyModel,
    *,
    complete: bool,
    cost: float,
    idle: float,
    latency: LatencySummary | None,
    workload: Workload,
    cannot_meet: str | None = None,
    spread: float = 0.0,
) -> Verdict:
    """One option against the workload: the decision's one rule, used by the report, the
    sizing search, the sweep and the search for what would change it. ``cannot_meet`` is
    the sizing search's binding limit, ``spread`` the cost's relative half-width."""
    keeps_up = latency is None or latency.keeps_up
    too_long = tuple(t.name for t in workload.reaching(time_limits(model)))
    waits = {t.task: t.wait_p95 for t in latency.per_task} if latency else {}
    misses = tuple(
        Miss(task=t.name, p95_seconds=waits[t.name], target_seconds=t.max_wait_seconds)
        for t in workload.active_tasks
        if t.max_wait_seconds is not None and t.name in waits and waits[t.name] > t.max_wait_seconds
    )
    return Verdict(
        label=model.label,
        cost=cost if keeps_up else None,
        idle=idle,
        complete=complete,
        keeps_up=keeps_up,
        too_long=too_long,
        misses=misses if keeps_up else (),
        cannot_meet=cannot_meet,
        spread=cost * spread if keeps_up else 0.0,
    )


def rank(verdicts: Sequence[Verdict], workload: Workload) -> Decision:
    def order(v: Verdict) -> tuple[int, float, str]:
        return (0 if v.eligible else 1, v.cost if v.cost is not None else math.inf, v.label)

    ranked = tuple(sorted(verdicts, key=order))
    chosen = ranked[0].label if ranked and ranked[0].eligible else None
    targets = tuple(
        (t.name, t.max_wait_seconds)
        for t in workload.active_tasks
        if t.max_wait_seconds is not None
    )
    return Decision(chosen=chosen, ranked=ranked, targets=targets)


def decide(comparison: Comparison, cannot_meet: Mapping[str, str] | None = None) -> Decision:
    """The recommendation for the comparison's workload; ``cannot_meet`` names, per option
    the sizing search could not size, the limit that binds."""
    bindings = cannot_meet or {}
    return rank(
        [
            judge(
                t.model,
                complete=t.complete,
                cost=t.cost.total,
                idle=t.idle.total,
                latency=t.latency,
                workload=comparison.workload,
                cannot_meet=bindings.get(t.label),
                spread=t.cost.spread,
            )
            for t in comparison.topologies
        ],
        comparison.workload,
    )


# -- what would change the decision -------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Flip:
    """Where, along one input, the recommendation first changes from today's."""

    factor: float
    """Of today's value (volume or durations); 0 for the network choice."""
    becomes: str | None
    """The recommendation there (None: no option is eligible)."""
    because: str
    """Why today's choice loses there."""


@dataclass(frozen=True, kw_only=True)
class Sensitivity:
    """One input searched over a range: the flips below and above today's value."""

    input: str
    """'volume', 'duration' or 'network'."""
    searched: str
    """The range searched, in words."""
    lower: Flip | None
    higher: Flip | None


@dataclass(frozen=True, kw_only=True)
class WhatWouldChange:
    current: str | None
    sensitivities: tuple[Sensitivity, ...]

    def of(self, name: str) -> Sensitivity:
        return next(s for s in self.sensitivities if s.input == name)


Evaluate = Callable[[Workload], Decision]


def search_assumptions(assumptions: Assumptions) -> Assumptions:
    """The sweep's coarser simulation (30 s steps, one day), so the search takes seconds."""
    return replace(assumptions, step_seconds=30.0, max_simulated_days=1)


class Evaluator:
    """A function from a workload to its decision, pricing and simulating every topology
    the way the report does (without the after-idle probe, which decides nothing).

    :meth:`differs` answers the search's question, "is the decision another option than
    ``chosen``?", simulating ``chosen`` first: when it is no longer eligible the answer
    is yes without simulating the others. When it is, only the options whose cost with
    no tasks (their floor) is below ``chosen``'s cost are simulated: no volume or
    duration makes an option cheaper than what it bills idle. A decision simulates the
    options by rising floor and skips those whose floor is above the cheapest eligible
    cost found, but never the option :meth:`keep` names (today's choice, by which the
    search explains each flip); its ``ranked`` lists only the options it simulated.
    ``prune=False`` simulates every option every time (the tests' reference).
    """

    def __init__(
        self, models: Sequence[TopologyModel], scenario: Scenario, *, prune: bool = True
    ) -> None:
        """``scenario``'s prices and assumptions price and simulate every workload asked
        about (its own workload is not used)."""
        self._models = tuple(models)
        self._scenario = scenario
        self._prune = prune
        self._anchor: str | None = None
        """The option every decision judges, pruned or not (:meth:`keep`)."""
        self._verdicts: dict[tuple[str, Workload], Verdict] = {}
        """Per (stack, workload): :meth:`differs` and the full decision share them."""
        self._floors: dict[tuple[str, Network, str], float] = {}

    def _verdict(self, model: TopologyModel, workload: Workload) -> Verdict:
        key = (model.stack_id, workload)
        if key not in self._verdicts:
            self._verdicts[key] = self._judge(model, workload)
        return self._verdicts[key]

    def _judge(self, model: TopologyModel, workload: Workload) -> Verdict:
        cost, latency, routing = monthly_cost(
            model,
            self._scenario.with_workload(workload),
            probe=False,
            simulate_overloaded=False,
        )
        return judge(
            model,
            complete=not routing.unrouted,
            cost=cost.total,
            idle=0.0,
            latency=latency,
            workload=workload,
        )

    def __call__(self, workload: Workload) -> Decision:
        if not self._prune:
            return rank([self._verdict(t, workload) for t in self._models], workload)
        verdicts: list[Verdict] = []
        best = math.inf
        for model in sorted(self._models, key=lambda m: (self._floor(m, workload), m.label)):
            anchored = model.label == self._anchor
            if not anchored and self._floor(model, workload) * _FLOOR_MARGIN >= best:
                continue
            verdict = self._verdict(model, workload)
            verdicts.append(verdict)
            if verdict.eligible and verdict.cost is not None:
                best = min(best, verdict.cost)
        return rank(verdicts, workload)

    def keep(self, label: str | None) -> None:
        """Judge ``label`` in every decision: the search explains each flip by what
        happened to today's choice."""
        self._anchor = label

    def _floor(self, model: TopologyModel, workload: Workload) -> float:
        """The option's monthly cost with no tasks, in the workload's network and region."""
        key = (model.stack_id, workload.network, workload.region)
        if key not in self._floors:
            idle = self._scenario.with_workload(workload.scaled(0))
            cost, _, _ = monthly_cost(model, idle, probe=False, simulate_overloaded=False)
            self._floors[key] = cost.total
        return self._floors[key]

    def differs(self, workload: Workload, chosen: str | None) -> bool:
        first = next((t for t in self._models if t.label == chosen), None)
        if first is None or not self._prune:
            return self(workload).chosen != chosen
        kept = self._verdict(first, workload)
        if not kept.eligible or kept.cost is None:
            return True
        for model in self._models:
            if model is first or self._floor(model, workload) * _FLOOR_MARGIN >= kept.cost:
                continue
            other = self._verdict(model, workload)
            if other.eligible and (other.cost or 0.0, other.label) < (kept.cost, kept.label):
                return True
        return False


def evaluator(models: Sequence[TopologyModel], scenario: Scenario) -> Evaluator:
    """The search's evaluator: ``scenario`` with the search's coarser simulation."""
    return Evaluator(models, scenario.with_assumptions(search_assumptions(scenario.assumptions)))


def _because(before: Decision, after: Decision) -> str:
    """Why ``before``'s choice is not ``after``'s."""
    if before.chosen is None:
        return "an option becomes eligible"
    old = after.verdict(before.chosen)
    if not old.eligible:
        return f"{before.chosen}: {old.why_not}"
    if after.chosen is None:
        return "no option is eligible"
    return f"costs cross: {after.chosen} becomes cheaper than {before.chosen}"


def _search(
    evaluate: Evaluate,
    scaled: Callable[[float], Workload],
    today: Decision,
    grid: Sequence[float],
) -> Flip | None:
    """The first factor along ``grid`` (moving away from 1) where the choice changes,
    refined by bisection on a log axis; the decision there is then taken in full."""
    check = getattr(evaluate, "differs", None)

    def differs(factor: float) -> bool:
        if check is not None:
            return bool(check(scaled(factor), today.chosen))
        return evaluate(scaled(factor)).chosen != today.chosen

    previous = 1.0
    for factor in grid:
        if differs(factor):
            low, high = previous, factor
            for _ in range(_BISECTIONS):
                middle = math.sqrt(low * high)
                if differs(middle):
                    high = middle
                else:
                    low = middle
            found = evaluate(scaled(high))
            return Flip(factor=high, becomes=found.chosen, because=_because(today, found))
        previous = factor
    return None


def _grid(low: float, high: float, per_step: int, step: float) -> tuple[list[float], list[float]]:
    """Factors below 1 (descending) and above 1 (ascending), ``per_step`` per ``step``."""
    down = []
    factor = 1.0
    while factor > low * (1 + 1e-9):
        factor = max(low, factor / step ** (1 / per_step))
        down.append(factor)
    up = []
    factor = 1.0
    while factor < high * (1 - 1e-9):
        factor = min(high, factor * step ** (1 / per_step))
        up.append(factor)
    return down, up


def what_would_change(
    workload: Workload,
    evaluate: Evaluate,
    *,
    volume_range: tuple[float, float] = VOLUME_RANGE,
    duration_range: tuple[float, float] = DURATION_RANGE,
) -> WhatWouldChange:
    """Search volume, durations and the network choice, one at a time, for a flip."""
    today = evaluate(workload)
    keep = getattr(evaluate, "keep", None)
    if keep is not None:
        keep(today.chosen)
    down, up = _grid(*volume_range, _VOLUME_STEPS_PER_DECADE, 10.0)
    volume = Sensitivity(
        input="volume",
        searched=f"x{volume_range[0]:g}..x{volume_range[1]:g} of "
        f"{workload.volume_per_month:,.0f} tasks/month, the mix kept",
        lower=_search(evaluate, workload.scaled, today, down),
        higher=_search(evaluate, workload.scaled, today, up),
    )
    down, up = _grid(*duration_range, _DURATION_STEPS_PER_DOUBLING, 2.0)
    duration = Sensitivity(
        input="duration",
        searched=f"every task's duration x{duration_range[0]:g}..x{duration_range[1]:g}",
        lower=_search(evaluate, workload.lengthened, today, down),
        higher=_search(evaluate, workload.lengthened, today, up),
    )
    other = Network.DEDICATED if workload.network is Network.SHARED else Network.SHARED
    switched = evaluate(workload.with_network(other))
    network = Sensitivity(
        input="network",
        searched=f'network "{other.value}" instead of "{workload.network.value}"',
        lower=None,
        higher=(
            Flip(factor=0.0, becomes=switched.chosen, because=_because(today, switched))
            if switched.chosen != today.chosen
            else None
        ),
    )
    return WhatWouldChange(current=today.chosen, sensitivities=(volume, duration, network))


# -- measures the ADR quotes ---------------------------------------------------------------


def main_driver(topology: TopologyReport) -> tuple[str, float] | None:
    """The service with the largest share of the monthly increment, and that share."""
    services = topology.cost.by_service()
    total = topology.cost.total
    if not services or total <= 0:
        return None
    service = max(sorted(services), key=services.__getitem__)
    return service, services[service] / total


def in_flight(topology: TopologyReport, workload: Workload) -> float:
    """Runs in progress at an average moment: what a restart interrupts."""
    if topology.latency is None:
        return 0.0
    tasks = {t.task for t in topology.latency.per_task}
    busy = sum(
        t.volume_per_month / DAYS_PER_MONTH * t.duration_seconds
        for t in workload.active_tasks
        if t.name in tasks
    )
    return busy / 86_400


def web_app_cpu_seconds_per_day(topology: TopologyReport, workload: Workload) -> float:
    """Poller-thread seconds a day the web app's own tasks spend on task work (a busy
    thread counted as a busy vCPU, as the simulation does for its CPU scaling rule)."""
    if topology.kind is not ConsumerKind.WEBAPP:
        return 0.0
    handled = {
        name
        for consumer in topology.model.routing.consumers
        if consumer.kind is ConsumerKind.WEBAPP
        for name in consumer.tasks
    }
    return sum(
        t.volume_per_month / DAYS_PER_MONTH * t.duration_seconds
        for t in workload.active_tasks
        if t.name in handled
    )


def over_fifteen_minutes(workload: Workload) -> tuple[list[str], list[str]]:
    """(catalogue tasks whose longest run exceeds 15 minutes or whose workload duration
    does, catalogue tasks whose longest run is exactly 15 minutes)."""
    over = [
        name
        for name, task in CATALOGUE.items()
        if task.max_duration_seconds > LAMBDA_MAX_DURATION_SECONDS
        or any(
            t.name == name and t.duration_seconds > LAMBDA_MAX_DURATION_SECONDS
            for t in workload.tasks
        )
    ]
    at = [
        name
        for name, task in CATALOGUE.items()
        if task.max_duration_seconds == LAMBDA_MAX_DURATION_SECONDS and name not in over
    ]
    return over, at
