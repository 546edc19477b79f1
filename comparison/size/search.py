"""Size each option for the workload: the cheapest sizing that keeps up and meets every
``max_wait``, within AWS's limits, or "cannot meet" with the limit that binds.

The search space, per topology (docs/comparison.md, "Sizing"):

- **lambdas**: per task, the memory is the workload's ``memory_mib`` and the event
  source's maximum concurrency is the smallest from 2 to 1,000 that keeps up and meets
  the task's ``max_wait`` (bisection; tasks have their own functions, so all tasks are
  bisected in the same trials). Limits: Lambda's 15 minutes (a task whose duration
  reaches its function's timeout cannot run there), the account's concurrency
  (``Assumptions.lambda_account_concurrency``) and the SES send rate.
- **worker-service**, **webapp-poller**, **private-endpoints**: threads (worker threads,
  poller threads, request concurrency) of 1, 2, 4, 8 or 16 per task; the task size is the
  cheapest Fargate size that holds the threads x the largest task memory (plus the web
  app's own memory for the poller); worker-service also tries acceptable latencies from
  the workload's down to 30 s. For each, the maximum tasks is the smallest from what
  keeps up to what the fleet reaches unbounded (bisection) that meets every ``max_wait``;
  the cheapest of those wins. Limits: ECS's 5,000 tasks per service, Fargate's task
  sizes, the SES send rate.

Ceilings found (caps, maximum tasks) are then multiplied by
``Assumptions.sizing_headroom``; a ceiling costs nothing until it is used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from comparison.cost.estimate import monthly_cost
from comparison.decide.decision import Verdict, judge, time_limits
from comparison.inputs.assumptions import HOURS_PER_MONTH
from comparison.inputs.scenario import Scenario
from comparison.inputs.workload import Workload
from comparison.model.resources import FunctionModel
from comparison.model.routing import Consumer, ConsumerKind
from comparison.model.sizing import (
    TopologySizing,
    apply_sizing,
    largest_run_memory,
    poller_web_app_size,
    stated_sizing,
)
from comparison.model.topology import TopologyModel
from comparison.simulate.capacity import SECONDS_PER_MONTH, ses_saturations
from comparison.simulate.latency import LatencySummary
from comparison.units import seconds
from runtime.catalogue import LAMBDA_MAX_DURATION_SECONDS
from runtime.contract.fargate import TaskSize, cheapest_size
from runtime.contract.sizing import (
    LAMBDA_CONCURRENCY_RANGE,
    MAX_SERVICE_TASKS,
    LambdasSizing,
    PrivateEndpointsSizing,
    TaskFunctionSizing,
    WebappPollerSizing,
    WebAppSizing,
    WorkerServiceSizing,
)

THREAD_CHOICES = (1, 2, 4, 8, 16)
LATENCY_FLOOR_SECONDS = 30.0


@dataclass(frozen=True, kw_only=True)
class Trial:
    sizing: TopologySizing
    model: TopologyModel
    cost: float
    verdict: Verdict
    latency: LatencySummary | None

    @property
    def meets(self) -> bool:
        return self.verdict.eligible


@dataclass(frozen=True, kw_only=True)
class SizedOption:
    """One topology sized for the workload."""

    label: str
    stated: TopologySizing | None
    """The sizing its template states: the settings shipped, a reference."""
    sizing: TopologySizing | None
    """The cheapest sizing that meets the workload, ceilings with headroom; None when it
    cannot meet (then ``model`` is the template's)."""
    needed: TopologySizing | None
    """The same before headroom: the least that meets."""
    model: TopologyModel
    binding: str | None
    """Why no sizing meets: the limit that binds (None when one does)."""
    trials: int

    @property
    def meets(self) -> bool:
        return self.binding is None


class Trials:
    """Runs trials of one topology under one scenario, counting them."""

    def __init__(self, model: TopologyModel, scenario: Scenario) -> None:
        self.model, self.scenario, self.count = model, scenario, 0

    def __call__(self, sizing: TopologySizing) -> Trial:
        self.count += 1
        sized = apply_sizing(self.model, sizing)
        cost, latency, routing = monthly_cost(sized, self.scenario, probe=False, spread=False)
        verdict = judge(
            sized,
            complete=not routing.unrouted,
            cost=cost.total,
            idle=0.0,
            latency=latency,
            workload=self.scenario.workload,
        )
        return Trial(sizing=sizing, model=sized, cost=cost.total, verdict=verdict, latency=latency)


def _busy_slots(consumer: Consumer, workload: Workload) -> float:
    """Runs in progress on average: volume x duration over a month's seconds."""
    return (
        sum(
            workload.task(n).volume_per_month * workload.task(n).duration_seconds
            for n in consumer.tasks
        )
        / SECONDS_PER_MONTH
    )


def _ses_binding(scenario: Scenario, tasks: Iterable[str]) -> str | None:
    handled = set(tasks)
    for saturation in ses_saturations(scenario.workload, scenario.assumptions):
        if saturation.active and saturation.task in handled and not saturation.keeps_up:
            return (
                f"{saturation.task} needs more than the account's SES send rate "
                f"({scenario.assumptions.ses_send_rate_per_second:g} a second) "
                f"at {saturation.saturates_at:,.0f} runs a month"
            )
    return None


def _miss_binding(trial: Trial, where: str) -> str:
    verdict = trial.verdict
    if verdict.misses:
        miss = verdict.misses[0]
        return (
            f"{miss.task} waits {seconds(miss.p95_seconds)} at p95 even {where}, over its "
            f"max_wait of {seconds(miss.target_seconds)}"
        )
    return f"{verdict.why_not} even {where}"


def _bisect(lo: int, hi: int, meets: Callable[[int], bool]) -> int:
    """The smallest n in [lo, hi] with meets(n), given meets(hi); monotone assumed."""
    while lo < hi:
        mid = (lo + hi) // 2
        if meets(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi


def _with_headroom(needed: int, headroom: float, ceiling: int) -> int:
    return min(ceiling, max(needed, math.ceil(needed * headroom)))


# -- lambdas ---------------------------------------------------------------------------------


def _time_binding(model: TopologyModel, workload: Workload) -> str | None:
    limits = time_limits(model)
    for task in workload.active_tasks:
        limit = limits.get(task.name)
        if limit is None or task.duration_seconds < limit:
            continue
        if limit >= LAMBDA_MAX_DURATION_SECONDS:
            return (
                f"{task.name} runs {seconds(task.duration_seconds)}, at Lambda's limit of "
                f"{seconds(LAMBDA_MAX_DURATION_SECONDS)}"
            )
        return (
            f"{task.name} runs {seconds(task.duration_seconds)}, at or over its function's "
            f"timeout of {seconds(limit)} (the catalogue's max_duration_seconds)"
        )
    return None


def _task_consumers(model: TopologyModel) -> list[Consumer]:
    return [
        c
        for c in model.routing.consumers
        if isinstance(c.resource, FunctionModel) and len(c.tasks) == 1
    ]


def _lambdas_sizing(caps: dict[str, int], workload: Workload) -> LambdasSizing:
    return LambdasSizing(
        tasks={
            name: TaskFunctionSizing(max_concurrency=cap, memory_mib=workload.task(name).memory_mib)
            for name, cap in caps.items()
        }
    )


def _missed(trial: Trial) -> set[str]:
    return {m.task for m in trial.verdict.misses}


def size_lambdas(model: TopologyModel, scenario: Scenario) -> SizedOption:
    workload, assumptions = scenario.workload, scenario.assumptions
    trials = Trials(model, scenario)
    consumers = _task_consumers(model)
    low, high = LAMBDA_CONCURRENCY_RANGE

    def cannot(binding: str) -> SizedOption:
        return SizedOption(
            label=model.label,
            stated=stated_sizing(model),
            sizing=None,
            needed=None,
            model=model,
            binding=binding,
            trials=trials.count,
        )

    binding = _time_binding(model, workload) or _ses_binding(
        scenario, (c.tasks[0] for c in consumers)
    )
    if binding:
        return cannot(binding)
    lo = {c.tasks[0]: max(low, math.floor(_busy_slots(c, workload)) + 1) for c in consumers}
    over = [name for name, cap in lo.items() if cap > high]
    if over:
        return cannot(
            f"{over[0]} needs more than {high:,} runs at once, the most an SQS event source allows"
        )
    hi = dict.fromkeys(lo, high)
    targeted = {t.name for t in workload.active_tasks if t.max_wait_seconds is not None}
    for name in lo:
        if name not in targeted:
            hi[name] = lo[name]
    top = trials(_lambdas_sizing(hi, workload))
    if not top.meets:
        return cannot(_miss_binding(top, f"at {high:,} runs at once"))
    while any(lo[n] < hi[n] for n in lo):
        mid = {n: (lo[n] + hi[n]) // 2 for n in lo}
        missed = _missed(trials(_lambdas_sizing(mid, workload)))
        for name in lo:
            if lo[name] >= hi[name]:
                continue
            if name in missed:
                lo[name] = mid[name] + 1
            else:
                hi[name] = mid[name]
    needed = hi
    limit = assumptions.lambda_account_concurrency
    if sum(needed.values()) > limit:
        return cannot(
            f"the tasks need {sum(needed.values()):,} runs at once in all, over the account's "
            f"Lambda concurrency of {limit:,} (Assumptions.lambda_account_concurrency; a new "
            "account may start with 10)"
        )
    final = {n: _with_headroom(cap, assumptions.sizing_headroom, high) for n, cap in needed.items()}
    if sum(final.values()) > limit:  # keep within the account: headroom shrinks first
        spare = limit - sum(needed.values())
        extra = {n: final[n] - needed[n] for n in needed}
        total = sum(extra.values())
        final = {n: needed[n] + math.floor(extra[n] * spare / total) for n in needed}
    sized = trials(_lambdas_sizing(final, workload))
    return SizedOption(
        label=model.label,
        stated=stated_sizing(model),
        sizing=sized.sizing,
        needed=_lambdas_sizing(needed, workload),
        model=sized.model,
        binding=None,
        trials=trials.count,
    )


# -- Fargate fleets --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    """One point of a fleet's search space but its maximum tasks."""

    threads: int
    size: TaskSize
    latency: float | None
    """worker-service's acceptable latency; None for the other fleets."""


def _fargate_prices(scenario: Scenario, model: TopologyModel) -> tuple[float, float]:
    architecture = next(
        (
            c.resource.architecture
            for c in model.routing.consumers
            if not isinstance(c.resource, FunctionModel)
        ),
        "x86_64",
    )
    table = scenario.prices
    return (
        table[f"fargate.vcpu_hour.{architecture}"].unit_price,
        table[f"fargate.gb_hour.{architecture}"].unit_price,
    )


def _web_app_section(size: TaskSize, workload: Workload, max_tasks: int) -> WebAppSizing:
    tasks = workload.webapp.tasks
    return WebAppSizing(
        cpu=size.cpu, memory_mib=size.memory_mib, min_tasks=tasks, max_tasks=max(tasks, max_tasks)
    )


def _fleet_consumer(model: TopologyModel) -> Consumer | None:
    return next(
        (c for c in model.routing.consumers if not isinstance(c.resource, FunctionModel)), None
    )


def _shapes(
    model: TopologyModel, consumer: Consumer, scenario: Scenario, prices: tuple[float, float]
) -> list[_Shape]:
    workload = scenario.workload
    memory = largest_run_memory(workload)
    latencies: list[float | None] = [None]
    if consumer.kind is ConsumerKind.WORKER:
        top = workload.acceptable_latency_seconds
        latencies = [top, *(value for value in (120.0, 60.0, LATENCY_FLOOR_SECONDS) if value < top)]
    shapes = []
    for threads in THREAD_CHOICES:
        if consumer.kind is ConsumerKind.WEBAPP:
            size = poller_web_app_size(workload, threads)
        else:
            found = cheapest_size(
                min_memory_mib=threads * memory, vcpu_price=prices[0], gb_price=prices[1]
            )
            if found is None:
                continue
            size = found
        shapes += [_Shape(threads, size, latency) for latency in latencies]
    return shapes


def _fleet_sizing(
    kind: ConsumerKind,
    shape: _Shape,
    max_tasks: int,
    workload: Workload,
    web: TaskSize,
    web_max: int | None,
) -> TopologySizing:
    """The sizing of one trial; a web app that is not the consumer keeps its stated
    maximum tasks (it scales for its own traffic), at the workload's size."""
    size = shape.size
    if kind is ConsumerKind.WEBAPP:
        return WebappPollerSizing(
            poller_threads=shape.threads, web_app=_web_app_section(size, workload, max_tasks)
        )
    web_app = _web_app_section(web, workload, web_max or workload.webapp.tasks)
    if kind is ConsumerKind.WORKER:
        return WorkerServiceSizing(
            max_tasks=max_tasks,
            cpu=size.cpu,
            memory_mib=size.memory_mib,
            worker_threads=shape.threads,
            acceptable_latency_seconds=shape.latency,
            web_app=web_app,
        )
    return PrivateEndpointsSizing(
        min_tasks=1,
        max_tasks=max_tasks,
        cpu=size.cpu,
        memory_mib=size.memory_mib,
        request_concurrency=shape.threads,
        web_app=web_app,
    )


def _least_tasks(
    shape: _Shape, floor: int, run: Callable[[_Shape, int], Trial]
) -> tuple[Trial | None, Trial]:
    """(the trial with the fewest maximum tasks that meets, or None; the trial at the most
    tasks tried). The most is where the fleet no longer reaches its ceiling."""
    ceiling = min(MAX_SERVICE_TASKS, max(4 * floor, 16))
    top = run(shape, ceiling)
    while top.latency is not None and top.latency.peak_units >= ceiling < MAX_SERVICE_TASKS:
        ceiling = min(MAX_SERVICE_TASKS, ceiling * 4)
        top = run(shape, ceiling)
    if not top.meets:
        return None, top
    reached = top.latency.peak_units if top.latency is not None else ceiling
    found: dict[int, Trial] = {ceiling: top}

    def meets(n: int) -> bool:
        found[n] = run(shape, n)
        return found[n].meets

    best = _bisect(floor, max(floor, min(reached, ceiling)), meets)
    return found.get(best) or run(shape, best), top


def size_fleet(model: TopologyModel, scenario: Scenario) -> SizedOption:
    workload, assumptions = scenario.workload, scenario.assumptions
    trials = Trials(model, scenario)
    consumer = _fleet_consumer(model)
    stated = stated_sizing(model)

    def cannot(binding: str) -> SizedOption:
        return SizedOption(
            label=model.label,
            stated=stated,
            sizing=None,
            needed=None,
            model=model,
            binding=binding,
            trials=trials.count,
        )

    if consumer is None:
        return cannot("nothing in the stack processes the tasks")
    binding = _ses_binding(scenario, consumer.tasks)
    if binding:
        return cannot(binding)
    prices = _fargate_prices(scenario, model)
    web = poller_web_app_size(workload, 0)
    kind = consumer.kind
    web_max = (
        stated.web_app.max_tasks
        if stated is not None and not isinstance(stated, LambdasSizing)
        else None
    )

    def run(shape: _Shape, max_tasks: int) -> Trial:
        return trials(_fleet_sizing(kind, shape, max_tasks, workload, web, web_max))

    busy = _busy_slots(consumer, workload)
    best: Trial | None = None
    failures: list[Trial] = []
    met_threads: set[int] = set()
    shapes = _shapes(model, consumer, scenario, prices)
    bounds = {shape: _cost_floor(kind, shape, busy, workload, web, prices) for shape in shapes}
    for shape in sorted(shapes, key=lambda s: (bounds[s], s.threads, -(s.latency or 0))):
        if shape.threads in met_threads:
            continue  # a larger latency already met with these threads: it costs least
        if best is not None and bounds[shape] >= best.cost:
            continue  # cannot be cheaper than what was found
        floor = math.floor(busy / shape.threads) + 1
        if kind is ConsumerKind.WEBAPP:
            floor = max(floor, workload.webapp.tasks)
        if floor > MAX_SERVICE_TASKS:
            continue
        found, top = _least_tasks(shape, floor, run)
        if found is None:
            failures.append(top)
            continue
        met_threads.add(shape.threads)
        if best is None or (found.cost, shape.threads) < (best.cost, _threads(best)):
            best = found
    if best is None:
        if not failures:
            return cannot(
                f"it needs more than {MAX_SERVICE_TASKS:,} tasks, ECS's tasks per service"
            )
        return cannot(_miss_binding(failures[-1], "at the most tasks the fleet reaches"))
    final = _with_max_tasks(best.sizing, assumptions.sizing_headroom)
    sized = trials(final) if final != best.sizing else best
    if not sized.meets:  # headroom must not lose what was met
        sized = best
    return SizedOption(
        label=model.label,
        stated=stated,
        sizing=sized.sizing,
        needed=best.sizing,
        model=sized.model,
        binding=None,
        trials=trials.count,
    )


def _hourly(size: TaskSize, prices: tuple[float, float]) -> float:
    return size.vcpu * prices[0] + size.memory_gb * prices[1]


def _cost_floor(
    kind: ConsumerKind,
    shape: _Shape,
    busy: float,
    workload: Workload,
    web: TaskSize,
    prices: tuple[float, float],
) -> float:
    """A lower bound of a shape's monthly cost, whatever its maximum tasks: the Fargate
    hours its busy threads need (the always-on minimum for an endpoint; for the web app,
    its own tasks grown to the larger size). Every other line of the cost is >= 0."""
    hourly = _hourly(shape.size, prices)
    if kind is ConsumerKind.WEBAPP:
        return workload.webapp.tasks * HOURS_PER_MONTH * max(0.0, hourly - _hourly(web, prices))
    busy_hours = busy * HOURS_PER_MONTH / shape.threads * hourly
    if kind is ConsumerKind.ENDPOINT:
        return max(busy_hours, HOURS_PER_MONTH * hourly)
    return busy_hours


def _threads(trial: Trial) -> int:
    sizing = trial.sizing
    match sizing:
        case WorkerServiceSizing():
            return sizing.worker_threads or 1
        case WebappPollerSizing():
            return sizing.poller_threads or 1
        case PrivateEndpointsSizing():
            return sizing.request_concurrency or 1
    return 1


def _with_max_tasks(sizing: TopologySizing, headroom: float) -> TopologySizing:
    match sizing:
        case WorkerServiceSizing() | PrivateEndpointsSizing():
            needed = sizing.max_tasks or 1
            return replace(sizing, max_tasks=_with_headroom(needed, headroom, MAX_SERVICE_TASKS))
        case WebappPollerSizing():
            web = sizing.web_app
            needed = web.max_tasks or 1
            grown = _with_headroom(needed, headroom, MAX_SERVICE_TASKS)
            return replace(sizing, web_app=replace(web, max_tasks=grown))
    return sizing


# -- every topology --------------------------------------------------------------------------


def size_topology(model: TopologyModel, scenario: Scenario) -> SizedOption:
    if model.kind is ConsumerKind.LAMBDA:
        return size_lambdas(model, scenario)
    return size_fleet(model, scenario)


def size_all(models: Sequence[TopologyModel], scenario: Scenario) -> tuple[SizedOption, ...]:
    return tuple(size_topology(model, scenario) for model in models)
