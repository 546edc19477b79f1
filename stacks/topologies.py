"""The topology flag: `-c topology=<name>` picks which stacks the app synthesizes."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from aws_cdk import App, Environment, Stack, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from runtime.catalogue import CATALOGUE, TaskCatalogue
from runtime.contract import METADATA_KEY
from runtime.contract import topology as identities
from runtime.contract.topology import TOPOLOGY_DETAIL, ConsumerKind, TopologyIdentity
from stacks.alarms import NOBODY_NOTIFIED
from stacks.control_tower import control_tower_checks
from stacks.lambdas import LambdasStack, concurrency_note
from stacks.private_endpoints import PrivateEndpointsStack
from stacks.settings import (
    TopologyProps,
    TopologySettings,
    account_from_context,
    offline_synth_hint,
    region_from_context,
)
from stacks.sizing import lambdas_catalogue, resized_catalogue
from stacks.webapp_poller import WebappPollerStack
from stacks.worker_service import WorkerServiceStack

DEFAULT_TOPOLOGY = identities.DEFAULT_TOPOLOGY
ALL = "all"


@dataclass(frozen=True)
class Topology:
    identity: TopologyIdentity
    stack_class: Callable[..., Stack]

    @property
    def name(self) -> str:
        return self.identity.name

    @property
    def stack_id(self) -> str:
        return self.identity.stack_id


# The identities are the contract's; this table adds only the class that builds each.
_STACK_CLASSES: Mapping[str, Callable[..., Stack]] = {
    "private-endpoints": PrivateEndpointsStack,
    "worker-service": WorkerServiceStack,
    "webapp-poller": WebappPollerStack,
    "lambdas": LambdasStack,
}

TOPOLOGIES: Mapping[str, Topology] = MappingProxyType(
    {
        identity.name: Topology(identity, _STACK_CLASSES[identity.name])
        for identity in identities.TOPOLOGIES
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


def stamp_identity(stack: Stack, identity: TopologyIdentity) -> None:
    """Stack-level template Metadata naming the topology, which the comparison and the
    local emulator read back from cdk.out instead of knowing stacks by id."""
    stack.template_options.metadata = {
        **(stack.template_options.metadata or {}),
        METADATA_KEY: {TOPOLOGY_DETAIL: identities.stamp(identity)},
    }


def new_app(**kwargs: Any) -> App:
    """The app, with CDK's built-in CloudFormation validator off unless asked for.

    The tests run cfn-lint on every template and fail on its errors, where the
    built-in validator only warns; it also costs about 2 s of every synth (a WASM
    engine's start-up). ``-c cfnValidation=true`` turns it back on.
    """
    # The CLI passes context in CDK_CONTEXT_JSON; tests pass it as an argument.
    context = {
        **json.loads(os.environ.get("CDK_CONTEXT_JSON", "{}")),
        **kwargs.get("context", {}),
    }
    wanted = str(context.get("cfnValidation", "false")).lower() == "true"
    return App(builtin_cloud_formation_validation=wanted, **kwargs)


def add_topologies(app: App, catalogue: TaskCatalogue = CATALOGUE) -> list[Stack]:
    """Add the selected topology stacks and the policy checks to ``app``.

    Context: ``topology`` (default webapp-poller), ``account`` (default: none, an
    environment-agnostic stack), ``region`` (default eu-west-2) and the rest of
    :class:`TopologySettings`. The stacks are built from ``catalogue`` with the
    sizing's ``taskMemoryMiB``.
    """
    topologies = selected_topologies(app.node.try_get_context("topology"))
    env = Environment(account=account_from_context(app.node), region=region_from_context(app.node))
    settings = TopologySettings.from_context(app.node)
    catalogue = resized_catalogue(catalogue, settings.sizing)
    hint = offline_synth_hint(
        app.node, needs_vpc=any(t.identity.kind is not ConsumerKind.LAMBDA for t in topologies)
    )
    if hint is not None:
        print(f"note: {hint}", file=sys.stderr)
    if any(topology.name == "lambdas" for topology in topologies):
        lambdas = lambdas_catalogue(catalogue, settings.sizing.lambdas)
        print(f"note: {concurrency_note(lambdas)}", file=sys.stderr)
    if settings.alarm_email is None and settings.alarm_topic_arn is None:
        print(f"note: {NOBODY_NOTIFIED}", file=sys.stderr)
    stacks = [
        topology.stack_class(
            app, topology.stack_id, TopologyProps(catalogue=catalogue, settings=settings), env=env
        )
        for topology in topologies
    ]
    for stack, topology in zip(stacks, topologies, strict=True):
        stamp_identity(stack, topology.identity)
    # cdk-nag 3 and the Control Tower rules run as CDK validation plugins: findings
    # fail synth.
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app), ServerlessChecks(app), control_tower_checks()
    )
    return stacks
