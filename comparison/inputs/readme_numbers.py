"""The numbers README.md quotes about the templates, computed from the templates.

README.md, docs/web.md and docs/container.md hold each one between
``<!-- generated:NAME -->`` and ``<!-- /generated -->``. ``scripts/readme-numbers``
rewrites them from fresh templates; tests/stacks/test_readme_numbers.py fails when one
drifts. Templates are read through :mod:`comparison.inputs.templates`, and resources
are found generically, by type, by reference and by the project's
``Metadata.AsyncTasks.role`` mark, never by logical id. Prices come from the shipped
table for eu-west-2.

It lives with the template reader, not after the model: it documents raw template facts
(target-group attributes, stop timeouts, layer versions) that no stage of the cost model
needs, as the local emulator reads its own.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from comparison.inputs.assumptions import HOURS_PER_MONTH
from comparison.inputs.prices import PriceTable, load_price_table
from comparison.inputs.templates import Resource, StackTemplate, load_templates, ref_target
from runtime.contract import POLLER_THREADS_DETAIL, ResourceRole
from runtime.contract.schedule_expression import runs_per_month

PROJECT_ROOT = Path(__file__).resolve().parents[2]
README = PROJECT_ROOT / "README.md"
# Every file holding generated numbers.
DOCUMENTS = (README, PROJECT_ROOT / "docs" / "web.md", PROJECT_ROOT / "docs" / "container.md")
PRICE_REGION = "eu-west-2"
MARKER = re.compile(r"<!-- generated:([\w.-]+) -->(.*?)<!-- /generated -->", re.DOTALL)
# Variants the numbers need, as synth context.
VARIANTS: dict[str, dict[str, str]] = {"defaults": {}, "endpoints": {"network": "endpoints"}}

# templates[variant][topology name]
Templates = Mapping[str, Mapping[str, StackTemplate]]
T = TypeVar("T")

_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


class ReadmeNumbersError(ValueError):
    """The templates or a document are not what the generator can read; one line."""


def words(count: int) -> str:
    return _WORDS[count] if 0 <= count < len(_WORDS) else f"{count:,}"


def one(items: Iterable[T], what: str) -> T:
    values = list(items)
    if len(values) != 1:
        raise ReadmeNumbersError(f"expected one {what}, found {len(values)}")
    return values[0]


def by_name(templates: Iterable[StackTemplate]) -> dict[str, StackTemplate]:
    """Templates by topology name, from their stamps; an unstamped one is refused."""
    named = {}
    for template in templates:
        if template.identity is None:
            raise ReadmeNumbersError(f"{template.stack_id} has no topology stamp; synthesize again")
        named[template.identity.name] = template
    return named


def scalable_target_of(template: StackTemplate, service: Resource) -> Resource:
    return one(
        template.referrers(service.logical_id, "AWS::ApplicationAutoScaling::ScalableTarget"),
        f"scalable target of {service.logical_id}",
    )


def policies_of(template: StackTemplate, target: Resource, policy_type: str) -> list[Resource]:
    return [
        policy
        for policy in template.referrers(
            target.logical_id, "AWS::ApplicationAutoScaling::ScalingPolicy"
        )
        if policy.properties["PolicyType"] == policy_type
    ]


def money(value: float) -> str:
    return f"{value:,.2f}"


def compute(templates: Templates, prices: PriceTable) -> dict[str, str]:
    """Every generated number, by marker name."""
    defaults = templates["defaults"]
    worker_stack = defaults["worker-service"]
    lambdas = defaults["lambdas"]
    endpoints_stack = defaults["private-endpoints"]
    out: dict[str, str] = {}
    out.update(_network(worker_stack, templates["endpoints"]["worker-service"], prices))
    out.update(_queues(lambdas, prices))
    out.update(_worker_service(worker_stack))
    out.update(_private_endpoints(endpoints_stack))
    out.update(_containers(defaults))
    out.update(_lambda_runtime(defaults))
    out["worker-size"] = _task_size(worker_stack, one(worker_stack.with_role("worker"), "worker"))
    out["endpoint-size"] = _task_size(
        endpoints_stack, one(endpoints_stack.with_role("endpoint"), "endpoint service")
    )
    out["resources-total"] = str(sum(len(t.resources) for t in defaults.values()))
    return out


def _network(nat: StackTemplate, endpoints: StackTemplate, prices: PriceTable) -> dict[str, str]:
    """NAT by default; interface and gateway endpoints with network=endpoints."""
    nat_gateways = len(nat.of_type("AWS::EC2::NatGateway"))
    vpces = [r.properties for r in endpoints.of_type("AWS::EC2::VPCEndpoint")]
    interface = [p for p in vpces if p.get("VpcEndpointType") == "Interface"]
    gateway = [p for p in vpces if p.get("VpcEndpointType") == "Gateway"]
    endpoint_azs = one({len(p["SubnetIds"]) for p in interface}, "AZ count of the endpoints")
    endpoint_month = (
        len(interface) * endpoint_azs * prices["vpce.az_hour"].unit_price * HOURS_PER_MONTH
    )
    return {
        "nat-gateways": words(nat_gateways),
        "nat-month": money(nat_gateways * prices["nat.hour"].unit_price * HOURS_PER_MONTH),
        "nat-gb": money(prices["nat.gb"].unit_price),
        "interface-endpoints": words(len(interface)),
        "endpoint-azs": words(endpoint_azs),
        "interface-endpoint-services": ", ".join(
            f"`{_service_suffix(p['ServiceName'])}`" for p in interface
        ),
        "gateway-endpoint-services": " and ".join(
            _service_suffix(p["ServiceName"]).upper().replace("DYNAMODB", "DynamoDB")
            for p in gateway
        ),
        "endpoints-month": f"{round(endpoint_month):,}",
        "vpce-gb": money(prices["vpce.gb"].unit_price),
    }


def _queues(lambdas: StackTemplate, prices: PriceTable) -> dict[str, str]:
    """Each TaskQueue's alarms and retention: the lambdas stack has one per task function."""
    task_functions = lambdas.with_role(ResourceRole.TASK)
    function_ids = {f.logical_id for f in task_functions}
    work_queues = {
        ref_target(m.properties.get("EventSourceArn"))
        for m in lambdas.of_type("AWS::Lambda::EventSourceMapping")
        if ref_target(m.properties.get("FunctionName")) in function_ids
    }
    dead_letter_queues = {
        ref_target(q.properties["RedrivePolicy"].get("deadLetterTargetArn"))
        for q in lambdas.of_type("AWS::SQS::Queue")
        if q.logical_id in work_queues and "RedrivePolicy" in q.properties
    }
    # The TaskQueues' own alarms: on a task's queue or its DLQ (not, e.g., the delivery DLQ).
    task_queue_ids = (work_queues | dead_letter_queues) - {None}
    sqs_alarms = [
        r.properties
        for r in lambdas.of_type("AWS::CloudWatch::Alarm")
        if r.properties.get("Namespace") == "AWS/SQS"
        and any(
            ref_target(d.get("Value")) in task_queue_ids for d in r.properties.get("Dimensions", [])
        )
    ]
    if not task_functions or len(sqs_alarms) % len(task_functions):
        raise ReadmeNumbersError(
            f"{len(sqs_alarms)} SQS alarms for {len(task_functions)} task functions: "
            "not the same alarms on every task queue"
        )
    threshold, datapoints = one(
        {
            (p["Threshold"], p["DatapointsToAlarm"])
            for p in sqs_alarms
            if p["MetricName"] == "ApproximateAgeOfOldestMessage"
        },
        "oldest-message alarm setting",
    )
    queues = [r.properties for r in lambdas.of_type("AWS::SQS::Queue")]
    redriven = {p["MessageRetentionPeriod"] // 86400 for p in queues if "RedrivePolicy" in p}
    terminal = {p["MessageRetentionPeriod"] // 86400 for p in queues if "RedrivePolicy" not in p}
    retries = {
        r.properties["Target"]["RetryPolicy"]["MaximumRetryAttempts"]
        for r in lambdas.of_type("AWS::Scheduler::Schedule")
    }
    return {
        "queue-alarms": words(len(sqs_alarms) // len(task_functions)),
        "alarm-price": money(prices["cloudwatch.alarm"].unit_price),
        "oldest-age-min": str(threshold // 60),
        "oldest-age-datapoints": str(datapoints),
        "queue-retention-days": str(one(redriven, "task queue retention")),
        "dlq-retention-days": str(one(terminal, "DLQ retention")),
        "schedule-retries": str(one(retries, "schedule retry count")),
    }


def _worker_service(stack: StackTemplate) -> dict[str, str]:
    """Capacity, the scaling policies and what the worker service bills while idle."""
    worker = one(stack.with_role(ResourceRole.WORKER), "worker service")
    target = scalable_target_of(stack, worker)
    tracking = one(policies_of(stack, target, "TargetTrackingScaling"), "tracking policy")
    config = tracking.properties["TargetTrackingScalingPolicyConfiguration"]
    step = one(policies_of(stack, target, "StepScaling"), "step policy")
    wake_alarms = stack.referrers(step.logical_id, "AWS::CloudWatch::Alarm")
    wake = one(wake_alarms, "wake-up alarm").properties
    metric_fn = one(stack.with_role(ResourceRole.BACKLOG_METRIC), "backlog metric function")
    rule = one(stack.referrers(metric_fn.logical_id, "AWS::Events::Rule"), "metric rule")
    return {
        "worker-capacity": (
            f"{target.properties['MinCapacity']}..{target.properties['MaxCapacity']}"
        ),
        "backlog-target": f"{config['TargetValue']:g}",
        "scale-out-cooldown": str(config["ScaleOutCooldown"]),
        "scale-in-cooldown": str(config["ScaleInCooldown"]),
        "scale-in-cooldown-min": words(config["ScaleInCooldown"] // 60),
        "wake-cooldown": str(step.properties["StepScalingPolicyConfiguration"]["Cooldown"]),
        "wake-datapoints": words(wake["DatapointsToAlarm"]),
        "wake-period": str(wake["Period"]),
        # Target tracking adds two AWS-managed alarms (one out, one in) per policy.
        "worker-idle-alarms": words(len(wake_alarms) + 2),
        "worker-threads": str(worker.meta(POLLER_THREADS_DETAIL)),
        "metric-runs": f"{round(runs_per_month(rule.properties['ScheduleExpression'])):,}",
    }


def _private_endpoints(stack: StackTemplate) -> dict[str, str]:
    """The always-on service's capacity and CPU target, and its target group."""
    endpoint = one(stack.with_role(ResourceRole.ENDPOINT), "endpoint service")
    target = scalable_target_of(stack, endpoint)
    cpu = one(policies_of(stack, target, "TargetTrackingScaling"), "endpoint CPU policy")
    group = one(stack.of_type("AWS::ElasticLoadBalancingV2::TargetGroup"), "target group")
    attributes = {a["Key"]: a["Value"] for a in group.properties["TargetGroupAttributes"]}
    return {
        "endpoint-capacity": (
            f"{target.properties['MinCapacity']}..{target.properties['MaxCapacity']}"
        ),
        "endpoint-min-tasks": words(target.properties["MinCapacity"]),
        "endpoint-cpu": (
            f"{cpu.properties['TargetTrackingScalingPolicyConfiguration']['TargetValue']:g}"
        ),
        "health-interval": str(group.properties["HealthCheckIntervalSeconds"]),
        "deregistration-delay": str(attributes["deregistration_delay.timeout_seconds"]),
    }


def _containers(defaults: Mapping[str, StackTemplate]) -> dict[str, str]:
    """The container stop budget, the same in every task definition (docs/container.md)."""
    stop_timeouts = {
        container["StopTimeout"]
        for stack in defaults.values()
        for task_definition in stack.of_type("AWS::ECS::TaskDefinition")
        for container in task_definition.properties["ContainerDefinitions"]
    }
    return {"stop-timeout": str(one(stop_timeouts, "container stopTimeout"))}


def _lambda_runtime(defaults: Mapping[str, StackTemplate]) -> dict[str, str]:
    """The Lambda runtime and the Powertools layer of every runtime function."""
    runtime_roles = (ResourceRole.TASK, ResourceRole.BACKLOG_METRIC, ResourceRole.INVOKER)
    functions = [
        r.properties
        for stack in defaults.values()
        for r in stack.with_role(*runtime_roles)
        if r.type == "AWS::Lambda::Function"
    ]
    pythons = {p["Runtime"].removeprefix("python") for p in functions}
    layers = {
        json.dumps(layer).rsplit(":", 1)[1].strip('"]}') for p in functions for layer in p["Layers"]
    }
    return {
        "python-version": one(pythons, "Python runtime"),
        "powertools-layer-version": one(layers, "Powertools layer version"),
    }


def _task_size(template: StackTemplate, service: Resource) -> str:
    task_definition = template.get(ref_target(service.properties["TaskDefinition"]))
    if task_definition is None:
        raise ReadmeNumbersError(f"{service.logical_id}'s task definition is not in the template")
    props = task_definition.properties
    return f"{int(props['Cpu']) / 1024:g} vCPU / {int(props['Memory']) / 1024:g} GiB"


def _service_suffix(service_name: Any) -> str:
    """`com.amazonaws.<region>.ecr.api`, or its Fn::Join around the region, -> `ecr.api`."""
    if isinstance(service_name, str):
        return service_name.split(".", 3)[3]
    parts = service_name["Fn::Join"][1]
    return str(parts[-1]).lstrip(".")


def markers(document: str) -> list[tuple[str, str]]:
    return MARKER.findall(document)


def rewrite(document: str, values: Mapping[str, str]) -> str:
    unknown = sorted({name for name, _ in markers(document)} - set(values))
    if unknown:
        raise ReadmeNumbersError(f"markers with no generator: {unknown}; add them to compute()")
    return MARKER.sub(
        lambda m: f"<!-- generated:{m.group(1)} -->{values[m.group(1)]}<!-- /generated -->",
        document,
    )


def synth_templates(variants: Iterable[str] = VARIANTS) -> dict[str, dict[str, StackTemplate]]:
    """Every topology synthesized under each variant's context, read back from cdk.out."""
    # The CDK app is imported here only: the generator is the one part of the comparison
    # that synthesizes (it needs two variants), and importing it starts jsii (seconds).
    from stacks.topologies import add_topologies, new_app

    context = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    out: dict[str, dict[str, StackTemplate]] = {}
    for variant in variants:
        with tempfile.TemporaryDirectory() as outdir:
            app = new_app(
                context={**context, "topology": "all", **VARIANTS[variant]}, outdir=outdir
            )
            add_topologies(app)
            app.synth()
            out[variant] = by_name(load_templates(Path(outdir)))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/readme-numbers", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--check", action="store_true", help="fail if a document would change")
    args = parser.parse_args(argv)
    values = compute(synth_templates(), load_price_table(PRICE_REGION))
    stale = []
    for document in DOCUMENTS:
        old = document.read_text()
        new = rewrite(old, values)
        if new != old:
            stale.append(document.name)
            if not args.check:
                document.write_text(new)
    if args.check and stale:
        print(f"readme-numbers: {stale} stale; run scripts/readme-numbers", file=sys.stderr)
        return 1
    print(f"readme-numbers: {len(values)} numbers, {stale or 'nothing'} rewritten", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
