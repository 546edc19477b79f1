"""A topology deployed into the emulator, with what local.deploy had to make up for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from comparison.inputs.templates import StackTemplate, read_template, template_path
from local.cloudformation import DeployedStack


@dataclass(frozen=True)
class LocalDeployment:
    topology: str
    endpoint_url: str
    cloud_assembly: Path
    stack: DeployedStack
    # Post-deploy adjustments for emulator gaps (local.adjust), as printed.
    adjustments: tuple[str, ...] = ()
    # What the emulator holds other than the template says (local.differences), as printed.
    differences: tuple[str, ...] = ()
    # Physical ids of skipped resources local.adjust created through their own API,
    # by logical id: a Ref to them resolves to nothing in moto's CloudFormation.
    substitutes: Mapping[str, str] = field(default_factory=dict)

    @property
    def template_path(self) -> Path:
        return template_path(self.cloud_assembly, self.stack.name)

    @cached_property
    def template(self) -> StackTemplate:
        """The template the stack was created from, read once."""
        return read_template(self.template_path)
