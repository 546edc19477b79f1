"""The topology flag: `-c topology=<name>` picks which stacks the app synthesizes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from aws_cdk import App, Environment, Stack, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from runtime.catalogue import CATALOGUE, TaskCatalogue
from stacks.lambdas import LambdasStack
from stacks.private_endpoints import PrivateEndpointsStack
from stacks.settings import TopologySettings
from stacks.webapp_poller import WebappPollerStack
from stacks.worker_service import WorkerServiceStack

DEFAULT_TOPOLOGY = "webapp-poller"  # the ADR's decision
ALL = "all"
DEFAULT_REGION = "eu-west-2"


@dataclass(frozen=True)
class Topology:
    name: str
    stack_id: str
    stack_class: Callable[..., Stack]


TOPOLOGIES: Mapping[str, Topology] = MappingProxyType(
    {
        topology.name: topology
        for topology in (
            Topology("private-endpoints", "AsyncTasks-PrivateEndpoints", PrivateEndpointsStack),
            Topology("worker-service", "AsyncTasks-WorkerService", WorkerServiceStack),
            Topology("webapp-poller", "AsyncTasks-WebappPoller", WebappPollerStack),
            Topology("lambdas", "AsyncTasks-Lambdas", LambdasStack),
        )
    }
)


class UnknownTopologyError(ValueError):
    """The topology flag named something that is not a topology."""


def selected_topologies(value: object) -> list[Topology]:
    """The topologies a `topology` context value selects; None means the default."""
    name = DEFAULT_TOPOLOGY if value is None else str(value)
    if name == ALL:
        return list(TOPOLOGIES.values())
    if name not in TOPOLOGIES:
        valid = ", ".join([*TOPOLOGIES, ALL])
        raise UnknownTopologyError(f"unknown topology '{name}'; valid values: {valid}")
    return [TOPOLOGIES[name]]


def add_topologies(app: App, catalogue: TaskCatalogue = CATALOGUE) -> list[Stack]:
    """Add the selected topology stacks and the policy checks to ``app``.

    Context: ``topology`` (default webapp-poller), ``account`` (default: none, an
    environment-agnostic stack) and ``region`` (default eu-west-2).
    """
    topologies = selected_topologies(app.node.try_get_context("topology"))
    account = app.node.try_get_context("account")
    region = app.node.try_get_context("region") or DEFAULT_REGION
    env = Environment(account=str(account) if account else None, region=str(region))
    settings = TopologySettings.from_context(app.node)
    stacks = [
        topology.stack_class(
            app, topology.stack_id, catalogue=catalogue, settings=settings, env=env
        )
        for topology in topologies
    ]
    # cdk-nag 3 runs as a CDK validation plugin: findings fail synth.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return stacks
