"""The base of every topology stack: it holds the catalogue and settings, then builds."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from runtime.catalogue import TaskCatalogue
from stacks.settings import TopologySettings


class TopologyStack(Stack):
    """Subclasses compose their constructs in :meth:`build`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        catalogue: TaskCatalogue,
        settings: TopologySettings,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.catalogue = catalogue
        self.settings = settings
        self.build()

    def build(self) -> None:
        raise NotImplementedError
