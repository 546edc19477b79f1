"""The registry of usage extractors: one per CloudFormation resource type, plus stack-wide ones.

An extractor turns one resource of the topology model (and the context: workload,
routing, simulated runs) into :class:`Usage` records priced later by key. Adding a
resource to a stack changes the estimate through whichever extractor is registered for
its type. Extractors read the typed model only, never the template.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from comparison.inputs.assumptions import DAYS_PER_MONTH, Assumptions
from comparison.inputs.workload import Workload
from comparison.model.routing import Consumer, ConsumerKind, Routing
from comparison.model.topology import TopologyModel
from comparison.simulate.simulation import ConsumerRun


@dataclass(frozen=True)
class Usage:
    price_key: str
    quantity: float
    resource: str
    """The logical id it comes from (or a description for stack-wide usage)."""
    note: str


@dataclass(frozen=True)
class UsageContext:
    model: TopologyModel
    workload: Workload
    assumptions: Assumptions
    runs: Mapping[str, ConsumerRun]
    """Simulated day per consumer logical id."""
    baseline_runs: Mapping[str, ConsumerRun] = field(default_factory=dict)
    """The same consumers simulated with no task work: what the web app runs anyway."""

    @property
    def routing(self) -> Routing:
        return self.model.routing

    def volume(self, tasks: tuple[str, ...]) -> float:
        """Task runs per month of the named tasks."""
        return sum(self.workload.task(name).volume_per_month for name in tasks)

    def consumer(self, logical_id: str) -> Consumer | None:
        return next((c for c in self.routing.consumers if c.logical_id == logical_id), None)

    def monthly(self, per_day: float) -> float:
        return per_day * DAYS_PER_MONTH

    @property
    def web_app(self) -> frozenset[str]:
        """The web app's service, scaling and alarms: baseline, charged to no topology."""
        return self.model.web_app

    def idle_receives(self, consumer: Consumer) -> float:
        """Long-poll receives a month of an ECS consumer: one receiving loop per queue per
        running task (the runtime's consumer hands messages to its threads), every
        ``long_poll_seconds`` while the task runs."""
        run = self.runs.get(consumer.logical_id)
        if run is None or consumer.kind is ConsumerKind.LAMBDA:
            return 0.0
        return (
            self.monthly(run.unit_seconds)
            / self.assumptions.long_poll_seconds
            * len(consumer.queues)
        )

    def extra_starts(self, consumer: Consumer) -> float:
        """Fargate task starts a month that task work causes (the web app's own excluded)."""
        run = self.runs.get(consumer.logical_id)
        if run is None or consumer.kind is ConsumerKind.LAMBDA:
            return 0.0
        baseline = self.baseline_runs.get(consumer.logical_id)
        own = baseline.starts if baseline is not None else 0
        return self.monthly(max(0, run.starts - own))


# An extractor takes the typed record its resource type is read into (see
# comparison.model.resources), e.g. a FunctionModel for AWS::Lambda::Function.
ResourceExtractor = TypeVar("ResourceExtractor", bound=Callable[[Any, "UsageContext"], list[Usage]])
StackExtractor = Callable[[UsageContext], list[Usage]]

_BY_TYPE: dict[str, list[Callable[[Any, UsageContext], list[Usage]]]] = {}
_STACK_WIDE: list[StackExtractor] = []


def extracts(resource_type: str) -> Callable[[ResourceExtractor], ResourceExtractor]:
    """Register a function as the usage extractor for ``resource_type``'s records."""

    def register(function: ResourceExtractor) -> ResourceExtractor:
        _BY_TYPE.setdefault(resource_type, []).append(function)
        return function

    return register


def extracts_stack(function: StackExtractor) -> StackExtractor:
    """Register a function that looks at the whole stack once (e.g. distinct metrics)."""
    _STACK_WIDE.append(function)
    return function


def registered_types() -> Mapping[str, int]:
    return {key: len(value) for key, value in _BY_TYPE.items()}


def extract_usage(context: UsageContext) -> list[Usage]:
    usages: list[Usage] = []
    for resource in context.model.resources:
        for extractor in _BY_TYPE.get(resource.type, []):
            usages.extend(extractor(resource, context))
    for stack_extractor in _STACK_WIDE:
        usages.extend(stack_extractor(context))
    return [usage for usage in usages if usage.quantity > 0]
