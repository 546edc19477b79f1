"""The `private-endpoints` topology: a web-app mirror behind an internal ALB.

Placeholder: only the shared data exists; the service, the internal ALB and the
invoker Lambda arrive with the ECS topologies.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from runtime.catalogue import TaskCatalogue
from stacks.data import TaskData


class PrivateEndpointsStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, catalogue: TaskCatalogue, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.catalogue = catalogue
        self.data = TaskData(self, "Data")
