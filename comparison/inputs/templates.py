"""Read synthesized CloudFormation templates and answer questions about their resources.

Nothing here knows a stack by name: topologies are told apart by the ``AsyncTasks``
metadata roles the constructs put on services and functions (see docs/comparison.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from comparison.errors import TemplateError
from runtime.contract import METADATA_KEY

# Names for the report; a stack with no recognisable role falls back to its id.
KNOWN_STACKS = {
    "AsyncTasks-PrivateEndpoints": "private-endpoints",
    "AsyncTasks-WorkerService": "worker-service",
    "AsyncTasks-WebappPoller": "webapp-poller",
    "AsyncTasks-Lambdas": "lambdas",
}


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

    @property
    def label(self) -> str:
        return KNOWN_STACKS.get(self.stack_id, self.stack_id)

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
    return StackTemplate(stack_id=stack_id, resources=resources)


def missing_topologies(stack_ids: Sequence[str]) -> tuple[str, ...]:
    """The project's topologies absent from ``stack_ids`` (none when it holds none of them,
    e.g. a test's own stacks): a plain `cdk synth` writes only the default one."""
    present = set(stack_ids)
    if not present & KNOWN_STACKS.keys():
        return ()
    return tuple(name for stack_id, name in KNOWN_STACKS.items() if stack_id not in present)


def load_templates(cdk_out: Path) -> list[StackTemplate]:
    """Every ``*.template.json`` in a cloud assembly directory, sorted by stack id."""
    paths = sorted(cdk_out.glob("*.template.json"))
    if not paths:
        raise TemplateError(
            f"no *.template.json in {cdk_out}; run `npx cdk synth -c topology=all` first "
            "or pass --cdk-out"
        )
    templates = []
    for path in paths:
        try:
            document = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise TemplateError(f"{path}: not valid JSON ({error}); synthesize again") from error
        templates.append(parse_template(path.name.removesuffix(".template.json"), document))
    return templates
