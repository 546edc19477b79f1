"""Task-type factories for construct tests.

The fixtures' bodies are plain functions too (``task_type``, ``new_cluster``,
``registry_image``), so a module can build a construct once and share it between the
tests that only read it: building one costs 0.2-0.3 s of jsii calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs

from runtime.catalogue import OnDemand, ScheduleTrigger, TaskType

TaskFactory = Callable[..., TaskType]


def task_type(**overrides: Any) -> TaskType:
    """A sample task type; ``overrides`` replace its fields."""
    fields: dict[str, Any] = {
        "name": "sample-task",
        "description": "A task for tests",
        "triggers": (OnDemand(),),
        "expected_duration_seconds": 10,
        "max_duration_seconds": 120,
        "memory_mib": 512,
        "handler": "tests.tasks:handle",
        "max_receive_count": 4,
    }
    fields.update(overrides)
    return TaskType(**fields)


@pytest.fixture
def make_task() -> TaskFactory:
    return task_type


@pytest.fixture
def nightly() -> ScheduleTrigger:
    return ScheduleTrigger(
        expression="cron(0 2 * * ? *)", time_zone="Europe/London", payload={"period": "day"}
    )


def new_cluster(stack: Stack) -> ecs.Cluster:
    """A 2-AZ VPC without NAT and a cluster in it, inside ``stack``."""
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="Tasks", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    return ecs.Cluster(stack, "Cluster", vpc=vpc)


@pytest.fixture
def cluster(stack: Stack) -> ecs.Cluster:
    """A 2-AZ VPC without NAT and a cluster in it, inside the test stack."""
    return new_cluster(stack)


def registry_image() -> ecs.ContainerImage:
    return ecs.ContainerImage.from_registry("public.ecr.aws/example/tasks:1")


@pytest.fixture
def image() -> ecs.ContainerImage:
    return registry_image()
