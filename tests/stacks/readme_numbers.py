"""The numbers README.md quotes about the templates, computed from the templates.

README.md, docs/web.md and docs/container.md hold each one between
``<!-- generated:NAME -->`` and ``<!-- /generated -->``.
``scripts/readme-numbers`` rewrites them from fresh templates; tests/stacks/
test_readme_numbers.py fails when one drifts. Resources are found generically, by type
and by the project's ``Metadata.AsyncTasks.role`` mark, never by logical id. Prices come
from the shipped table ``comparison/inputs/prices/eu-west-2.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
README = PROJECT_ROOT / "README.md"
# Every file holding generated numbers.
DOCUMENTS = (README, PROJECT_ROOT / "docs" / "web.md", PROJECT_ROOT / "docs" / "container.md")
PRICES = PROJECT_ROOT / "comparison" / "prices" / "eu-west-2.json"
HOURS_PER_MONTH = 730  # the cost model's month (comparison/assumptions.py)
MARKER = re.compile(r"<!-- generated:([\w.-]+) -->(.*?)<!-- /generated -->", re.DOTALL)
# Variants the numbers need, as synth context.
VARIANTS: dict[str, dict[str, str]] = {"defaults": {}, "endpoints": {"network": "endpoints"}}

Template = Mapping[str, Any]
_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
]


def words(count: int) -> str:
    return _WORDS[count] if 0 <= count < len(_WORDS) else f"{count:,}"


def resources(template: Template, type_: str | None = None) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if type_ is None or resource["Type"] == type_
    }


def role_of(resource: Mapping[str, Any]) -> str | None:
    role = resource.get("Metadata", {}).get("AsyncTasks", {}).get("role")
    return str(role) if role is not None else None


def with_role(template: Template, role: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in resources(template).items() if role_of(r) == role}


def one(items: Mapping[str, Any] | list[Any], what: str) -> Any:
    values = list(items.values()) if isinstance(items, Mapping) else items
    assert len(values) == 1, f"expected one {what}, found {len(values)}"
    return values[0]


def _refers_to(value: Any, logical_id: str) -> bool:
    """True when a CloudFormation value Refs or GetAtts the logical id."""
    return logical_id in json.dumps(value)


def scalable_target_of(template: Template, service_id: str) -> dict[str, Any]:
    targets = resources(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    return one(
        {
            lid: r
            for lid, r in targets.items()
            if _refers_to(r["Properties"]["ResourceId"], service_id)
        },
        f"scalable target of {service_id}",
    )


def policies_of(template: Template, target_id: str, policy_type: str) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for r in resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
        if r["Properties"]["PolicyType"] == policy_type
        and _refers_to(r["Properties"]["ScalingTargetId"], target_id)
    ]


def _target_id(template: Template, service_id: str) -> str:
    target = scalable_target_of(template, service_id)
    return next(lid for lid, r in resources(template).items() if r is target)


def price(prices: Mapping[str, Any], key: str) -> float:
    entry = prices["prices"][key]
    return float(entry["usd"]) / float(entry["per"])


def money(value: float) -> str:
    return f"{value:,.2f}"


def compute(
    templates: Mapping[str, Mapping[str, Template]], prices: Mapping[str, Any]
) -> dict[str, str]:
    """Every generated number, by marker name. ``templates[variant][stack_id]``."""
    defaults = templates["defaults"]
    worker_stack = defaults["AsyncTasks-WorkerService"]
    lambdas = defaults["AsyncTasks-Lambdas"]
    endpoints_stack = defaults["AsyncTasks-PrivateEndpoints"]
    out: dict[str, str] = {}

    # The network: NAT by default, interface and gateway endpoints with network=endpoints.
    nat_gateways = len(resources(worker_stack, "AWS::EC2::NatGateway"))
    out["nat-gateways"] = words(nat_gateways)
    out["nat-month"] = money(nat_gateways * price(prices, "nat.hour") * HOURS_PER_MONTH)
    out["nat-gb"] = money(price(prices, "nat.gb"))
    endpoint_net = templates["endpoints"]["AsyncTasks-WorkerService"]
    vpces = resources(endpoint_net, "AWS::EC2::VPCEndpoint").values()
    interface = [
        r["Properties"] for r in vpces if r["Properties"].get("VpcEndpointType") == "Interface"
    ]
    gateway = [
        r["Properties"] for r in vpces if r["Properties"].get("VpcEndpointType") == "Gateway"
    ]
    azs = {len(p["SubnetIds"]) for p in interface}
    assert len(azs) == 1, f"interface endpoints span different AZ counts: {azs}"
    endpoint_azs = azs.pop()
    out["interface-endpoints"] = words(len(interface))
    out["endpoint-azs"] = words(endpoint_azs)
    out["interface-endpoint-services"] = ", ".join(
        f"`{_service_suffix(p['ServiceName'])}`" for p in interface
    )
    out["gateway-endpoint-services"] = " and ".join(
        _service_suffix(p["ServiceName"]).upper().replace("DYNAMODB", "DynamoDB") for p in gateway
    )
    endpoint_month = len(interface) * endpoint_azs * price(prices, "vpce.az_hour") * HOURS_PER_MONTH
    out["endpoints-month"] = f"{round(endpoint_month):,}"
    out["vpce-gb"] = money(price(prices, "vpce.gb"))

    # Each TaskQueue's alarms: the lambdas stack has one TaskQueue per task function.
    task_functions = with_role(lambdas, "task")
    sqs_alarms = [
        r["Properties"]
        for r in resources(lambdas, "AWS::CloudWatch::Alarm").values()
        if r["Properties"].get("Namespace") == "AWS/SQS"
    ]
    assert len(sqs_alarms) % len(task_functions) == 0
    out["queue-alarms"] = words(len(sqs_alarms) // len(task_functions))
    out["alarm-price"] = money(price(prices, "cloudwatch.alarm"))
    oldest = {
        (p["Threshold"], p["DatapointsToAlarm"])
        for p in sqs_alarms
        if p["MetricName"] == "ApproximateAgeOfOldestMessage"
    }
    threshold, datapoints = one(list(oldest), "oldest-message alarm setting")
    out["oldest-age-min"] = str(threshold // 60)
    out["oldest-age-datapoints"] = str(datapoints)
    queues = resources(lambdas, "AWS::SQS::Queue").values()
    redriven = {
        r["Properties"]["MessageRetentionPeriod"] // 86400
        for r in queues
        if "RedrivePolicy" in r["Properties"]
    }
    out["queue-retention-days"] = str(one(list(redriven), "task queue retention"))

    # The worker service: capacity, the scaling policies and what it bills while idle.
    worker_id, worker = one(list(with_role(worker_stack, "worker").items()), "worker service")
    target = scalable_target_of(worker_stack, worker_id)["Properties"]
    out["worker-capacity"] = f"{target['MinCapacity']}..{target['MaxCapacity']}"
    target_id = _target_id(worker_stack, worker_id)
    tracking = one(policies_of(worker_stack, target_id, "TargetTrackingScaling"), "tracking policy")
    config = tracking["TargetTrackingScalingPolicyConfiguration"]
    out["backlog-target"] = f"{config['TargetValue']:g}"
    out["scale-out-cooldown"] = str(config["ScaleOutCooldown"])
    out["scale-in-cooldown"] = str(config["ScaleInCooldown"])
    out["scale-in-cooldown-min"] = words(config["ScaleInCooldown"] // 60)
    step = one(policies_of(worker_stack, target_id, "StepScaling"), "step policy")
    out["wake-cooldown"] = str(step["StepScalingPolicyConfiguration"]["Cooldown"])
    step_id = next(lid for lid, r in resources(worker_stack).items() if r.get("Properties") is step)
    wake_alarms = [
        r["Properties"]
        for r in resources(worker_stack, "AWS::CloudWatch::Alarm").values()
        if _refers_to(r["Properties"].get("AlarmActions", []), step_id)
    ]
    wake = one(wake_alarms, "wake-up alarm")
    out["wake-datapoints"] = words(wake["DatapointsToAlarm"])
    out["wake-period"] = str(wake["Period"])
    # Target tracking adds two AWS-managed alarms (one out, one in) per policy.
    out["worker-idle-alarms"] = words(len(wake_alarms) + 2)
    out["worker-threads"] = str(worker["Metadata"]["AsyncTasks"]["pollerThreads"])
    metric_fn_id = one(list(with_role(worker_stack, "backlog-metric")), "backlog metric function")
    rule = one(
        [
            r["Properties"]
            for r in resources(worker_stack, "AWS::Events::Rule").values()
            if _refers_to(r["Properties"].get("Targets", []), metric_fn_id)
        ],
        "metric rule",
    )
    out["metric-runs"] = f"{HOURS_PER_MONTH * 60 // _rate_minutes(rule['ScheduleExpression']):,}"

    # The private endpoints: the always-on service's capacity and CPU target.
    endpoint_id = one(list(with_role(endpoints_stack, "endpoint")), "endpoint service")
    endpoint_target = scalable_target_of(endpoints_stack, endpoint_id)["Properties"]
    out["endpoint-capacity"] = f"{endpoint_target['MinCapacity']}..{endpoint_target['MaxCapacity']}"
    out["endpoint-min-tasks"] = words(endpoint_target["MinCapacity"])
    cpu = one(
        policies_of(
            endpoints_stack, _target_id(endpoints_stack, endpoint_id), "TargetTrackingScaling"
        ),
        "endpoint CPU policy",
    )
    out["endpoint-cpu"] = f"{cpu['TargetTrackingScalingPolicyConfiguration']['TargetValue']:g}"

    # Container stop budget and the endpoints' target group (docs/web.md, docs/container.md).
    stop_timeouts = {
        container["StopTimeout"]
        for stack in defaults.values()
        for task_definition in resources(stack, "AWS::ECS::TaskDefinition").values()
        for container in task_definition["Properties"]["ContainerDefinitions"]
    }
    out["stop-timeout"] = str(one(list(stop_timeouts), "container stopTimeout"))
    group = one(
        resources(endpoints_stack, "AWS::ElasticLoadBalancingV2::TargetGroup"), "target group"
    )["Properties"]
    out["health-interval"] = str(group["HealthCheckIntervalSeconds"])
    attributes = {a["Key"]: a["Value"] for a in group["TargetGroupAttributes"]}
    out["deregistration-delay"] = attributes["deregistration_delay.timeout_seconds"]

    # Retention of every terminal DLQ, and Scheduler's delivery retries.
    terminal = {
        r["Properties"]["MessageRetentionPeriod"] // 86400
        for r in queues
        if "RedrivePolicy" not in r["Properties"]
    }
    out["dlq-retention-days"] = str(one(list(terminal), "DLQ retention"))
    retries = {
        r["Properties"]["Target"]["RetryPolicy"]["MaximumRetryAttempts"]
        for r in resources(lambdas, "AWS::Scheduler::Schedule").values()
    }
    out["schedule-retries"] = str(one(list(retries), "schedule retry count"))

    # Task sizes: the worker's and the endpoints' task definitions.
    out["worker-size"] = _task_size(worker_stack, worker)
    out["endpoint-size"] = _task_size(endpoints_stack, endpoints_stack["Resources"][endpoint_id])

    # The Lambda runtime and the Powertools layer of every runtime function.
    runtime_functions = [
        r["Properties"]
        for stack in defaults.values()
        for r in resources(stack, "AWS::Lambda::Function").values()
        if role_of(r) in {"task", "backlog-metric", "invoker"}
    ]
    pythons = {p["Runtime"].removeprefix("python") for p in runtime_functions}
    out["python-version"] = one(list(pythons), "Python runtime")
    layers = {
        json.dumps(layer).rsplit(":", 1)[1].strip('"]}')
        for p in runtime_functions
        for layer in p["Layers"]
    }
    out["powertools-layer-version"] = one(list(layers), "Powertools layer version")

    # Totals over the four default stacks.
    out["resources-total"] = str(sum(len(t["Resources"]) for t in defaults.values()))
    return out


def _task_size(template: Template, service: Mapping[str, Any]) -> str:
    task_definition = template["Resources"][service["Properties"]["TaskDefinition"]["Ref"]]
    props = task_definition["Properties"]
    return f"{int(props['Cpu']) / 1024:g} vCPU / {int(props['Memory']) / 1024:g} GiB"


def _service_suffix(service_name: Any) -> str:
    """`com.amazonaws.<region>.ecr.api`, or its Fn::Join around the region, -> `ecr.api`."""
    if isinstance(service_name, str):
        return service_name.split(".", 3)[3]
    parts = service_name["Fn::Join"][1]
    return str(parts[-1]).lstrip(".")


def _rate_minutes(expression: str) -> int:
    match = re.fullmatch(r"rate\((\d+) minutes?\)", expression)
    assert match, f"not a minute rate: {expression}"
    return int(match.group(1))


def markers(readme: str) -> list[tuple[str, str]]:
    return MARKER.findall(readme)


def rewrite(readme: str, values: Mapping[str, str]) -> str:
    unknown = sorted({name for name, _ in markers(readme)} - set(values))
    assert not unknown, f"README markers with no generator: {unknown}"
    return MARKER.sub(
        lambda m: f"<!-- generated:{m.group(1)} -->{values[m.group(1)]}<!-- /generated -->",
        readme,
    )


def synth_templates(variants: Iterable[str] = VARIANTS) -> dict[str, dict[str, Template]]:
    sys.path.insert(0, str(PROJECT_ROOT))
    from stacks.topologies import add_topologies, new_app
    from tests.conftest import cdk_json_context

    out: dict[str, dict[str, Template]] = {}
    for variant in variants:
        with tempfile.TemporaryDirectory() as outdir:
            app = new_app(
                context={**cdk_json_context(), "topology": "all", **VARIANTS[variant]},
                outdir=outdir,
            )
            add_topologies(app)
            out[variant] = {s.stack_name: s.template for s in app.synth().stacks}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a document would change")
    args = parser.parse_args(argv)
    values = compute(synth_templates(), json.loads(PRICES.read_text()))
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
