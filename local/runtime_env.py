"""The runtime's environment as the deployed stack sets it, read back from the emulator.

moto resolves the Refs and GetAtts in the functions' and task definitions' environment,
so the tests configure the runtime exactly as the stack would, not from guesses. A Ref
to a resource moto skipped resolves to nothing; local.adjust's substitute fills it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3

from local.model import LocalDeployment
from runtime.catalogue import CATALOGUE
from runtime.contract import (
    ENDPOINT_URL_ENV,
    ENDPOINT_URL_OUTPUT,
    QUEUE_URL_ENV,
    TABLE_ENV,
    TASK_NAME_ENV,
    TASK_QUEUE_URL_OUTPUT,
    TASK_TABLE_OUTPUT,
    UNAVAILABLE_TASKS_ENV,
    UNAVAILABLE_TASKS_OUTPUT,
    queue_url_env_for,
    queue_url_output_for,
)


def lambda_environments(deployment: LocalDeployment) -> dict[str, dict[str, str]]:
    """Each task function's environment, by its TASK_NAME."""
    environments: dict[str, dict[str, str]] = {}
    for function in deployment.stack.of_type("AWS::Lambda::Function"):
        variables = function_environment(deployment, function.logical_id)
        if TASK_NAME_ENV in variables:
            environments[variables[TASK_NAME_ENV]] = variables
    return environments


def function_environment(deployment: LocalDeployment, logical_id: str) -> dict[str, str]:
    """One function's environment as deployed (GetFunctionConfiguration)."""
    config = boto3.client("lambda").get_function_configuration(
        FunctionName=deployment.stack.physical_id(logical_id)
    )
    variables: dict[str, str] = dict(config.get("Environment", {}).get("Variables", {}))
    declared = deployment.template.resources[logical_id].properties
    return _fill(deployment, declared.get("Environment", {}).get("Variables", {}), variables)


def container_environment(
    deployment: LocalDeployment, task_definition_prefix: str
) -> dict[str, str]:
    """The first container's environment in the task definition whose logical id starts
    with ``task_definition_prefix`` (e.g. ``Workers``, ``WebApp``, ``Endpoints``)."""
    ecs = boto3.client("ecs")
    template = deployment.template
    for resource in deployment.stack.of_type("AWS::ECS::TaskDefinition"):
        if not resource.logical_id.startswith(task_definition_prefix):
            continue
        definition = ecs.describe_task_definition(taskDefinition=resource.physical_id)
        container = definition["taskDefinition"]["containerDefinitions"][0]
        variables = {
            item["name"]: item["value"]
            for item in container.get("environment", [])
            if "value" in item
        }
        declared = template.resources[resource.logical_id].properties["ContainerDefinitions"][0]
        return _fill(
            deployment,
            {item["Name"]: item["Value"] for item in declared.get("Environment", [])},
            variables,
        )
    raise LookupError(f"{deployment.stack.name} has no task definition {task_definition_prefix}*")


def _fill(
    deployment: LocalDeployment, declared: Mapping[str, Any], resolved: dict[str, str]
) -> dict[str, str]:
    """Add the variables moto left unresolved; fail on any local.adjust did not cover."""
    for name, value in declared.items():
        if name in resolved and resolved[name] is not None:
            continue
        target = value.get("Ref") if isinstance(value, dict) else None
        if not isinstance(target, str) or target not in deployment.substitutes:
            raise LookupError(f"{deployment.stack.name}: moto left {name}={value} unresolved")
        resolved[name] = deployment.substitutes[target]
    return resolved


def producer_environment(deployment: LocalDeployment) -> dict[str, str]:
    """What a web app needs to enqueue into this stack, from the stack's outputs."""
    outputs = deployment.stack.outputs
    env = {TABLE_ENV: outputs[TASK_TABLE_OUTPUT]}
    if TASK_QUEUE_URL_OUTPUT in outputs:
        env[QUEUE_URL_ENV] = outputs[TASK_QUEUE_URL_OUTPUT]
    for name in CATALOGUE:
        key = queue_url_output_for(name)
        if key in outputs:
            env[queue_url_env_for(name)] = outputs[key]
    if ENDPOINT_URL_OUTPUT in outputs:
        env[ENDPOINT_URL_ENV] = outputs[ENDPOINT_URL_OUTPUT]
    if UNAVAILABLE_TASKS_OUTPUT in outputs:
        env[UNAVAILABLE_TASKS_ENV] = outputs[UNAVAILABLE_TASKS_OUTPUT]
    return env
