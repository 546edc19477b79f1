"""The four topologies' identities: name, stack id, consumer kind and ADR option.

Defined here once. ``stacks/topologies.py`` builds its table from it and stamps each
stack's template with its entry (``Metadata.AsyncTasks.topology``, see
:func:`stamp`); the comparison reads the stamp back from ``cdk.out``, and ``local/``
takes names and stack ids from here without importing the CDK app.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

# Stack-level template Metadata: {METADATA_KEY: {TOPOLOGY_DETAIL: stamp(identity)}}.
TOPOLOGY_DETAIL: Final = "topology"


class ConsumerKind(enum.StrEnum):
    """What processes a topology's tasks; the comparison's consumers have these kinds."""

    LAMBDA = "lambda"
    WORKER = "worker"  # a separate Fargate service polling the queue
    WEBAPP = "webapp"  # the web app's own tasks polling the queue
    ENDPOINT = "endpoint"  # an always-on Fargate service behind an internal ALB


@dataclass(frozen=True, kw_only=True)
class TopologyIdentity:
    name: str
    """The ``-c topology=`` value."""
    stack_id: str
    kind: ConsumerKind
    adr_option: str
    """The option's title in ADR-0033's "Considered Options", verbatim."""


TOPOLOGIES: Final[tuple[TopologyIdentity, ...]] = (
    TopologyIdentity(
        name="private-endpoints",
        stack_id="AsyncTasks-PrivateEndpoints",
        kind=ConsumerKind.ENDPOINT,
        adr_option="Separate long-running ECS task with webserver and private endpoints",
    ),
    TopologyIdentity(
        name="worker-service",
        stack_id="AsyncTasks-WorkerService",
        kind=ConsumerKind.WORKER,
        adr_option="Separate ECS service with SQS queue and custom scaling rule",
    ),
    TopologyIdentity(
        name="webapp-poller",
        stack_id="AsyncTasks-WebappPoller",
        kind=ConsumerKind.WEBAPP,
        adr_option="SQS queue with the main webapp listening to it",
    ),
    TopologyIdentity(
        name="lambdas",
        stack_id="AsyncTasks-Lambdas",
        kind=ConsumerKind.LAMBDA,
        adr_option="Switching to Lambda functions",
    ),
)

DEFAULT_TOPOLOGY: Final = "webapp-poller"  # the ADR's decision

BY_NAME: Final[Mapping[str, TopologyIdentity]] = MappingProxyType({t.name: t for t in TOPOLOGIES})
BY_STACK_ID: Final[Mapping[str, TopologyIdentity]] = MappingProxyType(
    {t.stack_id: t for t in TOPOLOGIES}
)


def topology_names() -> list[str]:
    """Every topology name, in the ADR's order."""
    return [t.name for t in TOPOLOGIES]


def stamp(identity: TopologyIdentity) -> dict[str, str]:
    """The identity as the template metadata carries it (CloudFormation's camelCase)."""
    return {
        "name": identity.name,
        "stackId": identity.stack_id,
        "kind": identity.kind.value,
        "adrOption": identity.adr_option,
    }


def from_stamp(value: Mapping[str, object]) -> TopologyIdentity:
    """The identity a template's stamp carries; raises ValueError naming what is wrong."""
    fields = {"name": "name", "stack_id": "stackId", "kind": "kind", "adr_option": "adrOption"}
    missing = [key for key in fields.values() if not isinstance(value.get(key), str)]
    if missing:
        raise ValueError(f"topology stamp {dict(value)!r} lacks string field(s) {missing}")
    kinds = [kind.value for kind in ConsumerKind]
    if value["kind"] not in kinds:
        raise ValueError(f"topology stamp has kind {value['kind']!r}; expected one of {kinds}")
    read = {attribute: str(value[key]) for attribute, key in fields.items()}
    return TopologyIdentity(
        name=read["name"],
        stack_id=read["stack_id"],
        kind=ConsumerKind(read["kind"]),
        adr_option=read["adr_option"],
    )
