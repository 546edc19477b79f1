"""Read synthesized CloudFormation templates and answer questions about their resources.

The one template reader: the comparison, the local emulator (``local/``) and the README
numbers (``comparison.inputs.readme_numbers``) all parse templates here. Nothing here
knows a stack by name: a stack says which topology it is in its stamp
(``Metadata.AsyncTasks.topology``, from ``runtime.contract.topology``), and resources
are told apart by the ``AsyncTasks`` metadata roles the constructs put on services and
functions (see docs/comparison.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from comparison.errors import TemplateError
from runtime.contract import METADATA_KEY
from runtime.contract.topology import (
    BY_STACK_ID,
    TOPOLOGIES,
    TOPOLOGY_DETAIL,
    ConsumerKind,
    TopologyIdentity,
    from_stamp,
)


@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    properties: Mapping[str, Any]
    metadata: Mapping[str, Any]

    @property
    def role(self) -> str | None:
        """The ``AsyncTasks.role`` metadata our constructs set, if any."""
        entry = self.metadata.get(METADATA_KEY)
        return str(entry["role"]) if isinstance(entry, Mapping) and "role" in entry else None

    def meta(self, key: str) -> Any:
        entry = self.metadata.get(METADATA_KEY)
        return entry.get(key) if isinstance(entry, Mapping) else None

    @property
    def path(self) -> str:
        return str(self.metadata.get("aws:cdk:path", self.logical_id))


@dataclass(frozen=True)
class StackTemplate:
    stack_id: str
    resources: Mapping[str, Resource]
    identity: TopologyIdentity | None = None
    """The topology the stack is stamped as; None for an unstamped stack (a fixture)."""
    outputs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """The template's Outputs, by output id."""
    document: Mapping[str, Any] = field(default_factory=dict)
    """The whole template as read, for tools that hand it on (to CloudFormation, a diff)."""

    @property
    def label(self) -> str:
        """The topology's name; an unstamped stack falls back to its id."""
        return self.stack_id if self.identity is None else self.identity.name

    @property
    def kind(self) -> ConsumerKind | None:
        """The consumer the topology is built around, as stamped; None when unstamped."""
        return None if self.identity is None else self.identity.kind

    def of_type(self, resource_type: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.type == resource_type]

    def with_role(self, *roles: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.role in roles]

    def get(self, logical_id: str | None) -> Resource | None:
        return None if logical_id is None else self.resources.get(logical_id)

    def referrers(self, logical_id: str, resource_type: str | None = None) -> list[Resource]:
        """Resources whose properties refer to ``logical_id`` (Ref, GetAtt or Sub)."""
        return [
            r
            for r in self.resources.values()
            if (resource_type is None or r.type == resource_type)
            and logical_id in referenced_ids(r.properties)
        ]


def referenced_ids(value: Any) -> set[str]:
    """Every logical id a property value refers to."""
    return set(_walk_refs(value))


def _walk_refs(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                yield inner
            elif key == "Fn::GetAtt" and isinstance(inner, list) and inner:
                yield str(inner[0])
            else:
                yield from _walk_refs(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _walk_refs(inner)


def ref_target(value: Any) -> str | None:
    """The single logical id a Ref or GetAtt value points to, else None."""
    if isinstance(value, Mapping):
        if isinstance(value.get("Ref"), str):
            return str(value["Ref"])
        att = value.get("Fn::GetAtt")
        if isinstance(att, list) and att:
            return str(att[0])
    return None


def parse_template(stack_id: str, document: Mapping[str, Any]) -> StackTemplate:
    resources = {
        logical_id: Resource(
            logical_id=logical_id,
            type=str(body.get("Type", "")),
            properties=body.get("Properties", {}) or {},
            metadata=body.get("Metadata", {}) or {},
        )
        for logical_id, body in document.get("Resources", {}).items()
    }
    return StackTemplate(
        stack_id=stack_id,
        resources=resources,
        identity=_identity(stack_id, document),
        outputs=document.get("Outputs", {}) or {},
        document=document,
    )


def _identity(stack_id: str, document: Mapping[str, Any]) -> TopologyIdentity | None:
    entry = (document.get("Metadata", {}) or {}).get(METADATA_KEY)
    stamp = entry.get(TOPOLOGY_DETAIL) if isinstance(entry, Mapping) else None
    if stamp is None:
        return None
    try:
        if not isinstance(stamp, Mapping):
            raise ValueError(f"topology stamp {stamp!r} is not an object")
        identity = from_stamp(stamp)
    except ValueError as error:
        raise TemplateError(f"{stack_id}: {error}; synthesize again") from error
    if identity.stack_id != stack_id:
        raise TemplateError(
            f"{stack_id}: stamped as stack {identity.stack_id!r}; the template was renamed "
            "or copied: synthesize again"
        )
    return identity


def template_path(cdk_out: Path, stack_id: str) -> Path:
    """Where a cloud assembly keeps a stack's template."""
    return cdk_out / f"{stack_id}.template.json"


def read_template(path: Path) -> StackTemplate:
    """One ``<stack id>.template.json``."""
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise TemplateError(f"{path}: not valid JSON ({error}); synthesize again") from error
    except OSError as error:
        raise TemplateError(
            f"{path}: cannot be read ({error.strerror}); synthesize again"
        ) from error
    return parse_template(path.name.removesuffix(".template.json"), document)


def missing_topologies(stack_ids: Sequence[str]) -> tuple[str, ...]:
    """The project's topologies absent from ``stack_ids`` (none when it holds none of them,
    e.g. a test's own stacks): a plain `cdk synth` writes only the default one."""
    present = set(stack_ids)
    if not present & BY_STACK_ID.keys():
        return ()
    return tuple(t.name for t in TOPOLOGIES if t.stack_id not in present)


def load_templates(cdk_out: Path) -> list[StackTemplate]:
    """Every ``*.template.json`` in a cloud assembly directory, sorted by stack id."""
    paths = sorted(cdk_out.glob("*.template.json"))
    if not paths:
        raise TemplateError(
            f"no *.template.json in {cdk_out}; run `npx cdk synth -c topology=all` first "
            "or pass --cdk-out"
        )
    return [read_template(path) for path in paths]
