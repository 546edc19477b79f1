"""A diagram of one topology, drawn from its topology model: triggers -> queues -> consumers,
with the dead-letter queues, and below them the table, the bucket and the network.

Nodes are the resources that carry work; edges follow their references (schedule and
rule targets, event source mappings, the queues a service's task definition names, the
load balancer in front of a service, where failures go). Columns are the longest path
from a trigger; an edge that spans columns passes through a free slot in each column
between, so no edge is drawn behind a box. Schedules and rules are named by the task
they start. A box with a red border is billed while idle (with 0 tasks).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from comparison.model.resources import (
    EventSourceMappingModel,
    FunctionModel,
    LoadBalancerModel,
    ResourceModel,
    ServiceModel,
)
from comparison.model.topology import TopologyModel
from comparison.render.svg import Svg
from runtime.contract import ResourceRole

WEB_APP = "(web app)"
_KINDS = {
    "AWS::Scheduler::Schedule": "schedule",
    "AWS::Events::Rule": "event rule",
    "AWS::SQS::Queue": "SQS queue",
    "AWS::Lambda::Function": "Lambda",
    "AWS::ECS::Service": "Fargate service",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "internal ALB",
}
# Resources every consumer uses, drawn in a row of their own below the flow.
_SHARED = {
    "AWS::DynamoDB::Table": "DynamoDB table",
    "AWS::DynamoDB::GlobalTable": "DynamoDB table",
    "AWS::S3::Bucket": "S3 bucket",
    "AWS::EC2::NatGateway": "NAT gateway",
}
_FILL = {
    "schedule": "#fdf1d8",
    "event rule": "#fdf1d8",
    "SQS queue": "#e3effa",
    "dead-letter queue": "#f6e3e3",
    "Lambda": "#e2f4ec",
    "Fargate service": "#e2f4ec",
    "internal ALB": "#f3e5ef",
    "web app": "#eeeeee",
    "DynamoDB table": "#eeeeee",
    "S3 bucket": "#eeeeee",
    "NAT gateway": "#eeeeee",
    "interface endpoints": "#eeeeee",
}
_BOX_W, _BOX_H, _COL_GAP, _ROW_GAP, _MARGIN = 200.0, 38.0, 56.0, 12.0, 16.0
_LABEL_CHARS = 28


@dataclass(frozen=True)
class Node:
    node_id: str
    kind: str
    label: str


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...]
    shared: tuple[Node, ...] = ()
    """The table, the bucket, the NAT gateways or endpoints: used by the consumers."""


def _short(name: str) -> str:
    return name if len(name) <= _LABEL_CHARS else name[: _LABEL_CHARS - 1] + "…"


def _label(resource: ResourceModel) -> str:
    parts = [p for p in resource.path.split("/")[1:] if p not in ("Resource", "Default")]
    # Queue/Queue and Schedule1/Schedule say nothing twice: keep the more specific one.
    parts = [
        p for i, p in enumerate(parts) if i + 1 == len(parts) or not p.startswith(parts[i + 1])
    ]
    # Without construct paths, the logical id without CDK's hash suffix.
    name = "/".join(parts[-2:]) if parts else re.sub(r"[0-9A-F]{8}$", "", resource.logical_id)
    if resource.task:  # a function for one task: named by it
        name = resource.task
    role = f" [{resource.role}]" if resource.role else ""
    return _short(name[: _LABEL_CHARS - len(role)] + role) if role else _short(name)


def _carries_work(model: TopologyModel, resource: ResourceModel) -> bool:
    if resource.type not in _KINDS:
        return False
    if not isinstance(resource, FunctionModel) or resource.role:
        return True
    # CDK's own custom-resource functions carry no tasks: keep fed or triggered ones only.
    return bool(resource.event_sources) or any(
        resource.logical_id in t.target_ids for t in model.triggers
    )


def _node(model: TopologyModel, resource: ResourceModel) -> Node:
    if resource.logical_id in model.dead_letter_queues:
        return Node(resource.logical_id, "dead-letter queue", _label(resource))
    kind = _KINDS[resource.type]
    if kind in ("schedule", "event rule"):
        tasks = sorted(
            {
                t.task
                for t in model.triggers
                if t.source == resource.logical_id and t.task is not None
            }
        )
        if tasks:  # a rule is named by the task it starts
            return Node(resource.logical_id, kind, _short(", ".join(tasks)))
    return Node(resource.logical_id, kind, _label(resource))


def _shared_nodes(model: TopologyModel) -> list[Node]:
    found = [
        Node(r.logical_id, _SHARED[r.type], _label(r)) for r in model.resources if r.type in _SHARED
    ]
    endpoints = model.network.interface_endpoints
    if endpoints:
        found.append(
            Node(
                "(interface endpoints)",
                "interface endpoints",
                f"{len(endpoints)} interface endpoints",
            )
        )
    return found


def build_graph(model: TopologyModel) -> Graph:
    """Triggers -> queues -> consumers -> dead-letter queues, from the topology model."""
    nodes = {r.logical_id: _node(model, r) for r in model.resources if _carries_work(model, r)}
    edges: set[tuple[str, str]] = {
        (t.source, target) for t in model.triggers for target in t.target_ids
    }
    for r in model.resources:
        if isinstance(r, EventSourceMappingModel):
            function = r.for_function
            if r.source and function:
                edges.add((r.source, function))
                # An event source mapping's failure destination: from its function.
                edges |= {(function, dlq) for dlq in r.failure_targets}
        elif r.logical_id in nodes:
            edges |= {(r.logical_id, dlq) for dlq in r.failure_targets}
        elif r.for_function:  # e.g. a function's EventInvokeConfig: failures go from it
            edges |= {(r.for_function, dlq) for dlq in r.failure_targets}
    routing = model.routing
    for consumer in routing.consumers:
        edges |= {(queue, consumer.logical_id) for queue in consumer.queues}
    balancers = [r.logical_id for r in model.of_kind(LoadBalancerModel)]
    for service in model.of_kind(ServiceModel):
        if service.load_balanced:
            edges |= {(alb, service.logical_id) for alb in balancers}
    for invoker in model.with_role(ResourceRole.INVOKER):
        edges |= {(invoker.logical_id, alb) for alb in balancers}
    # The web app sends on-demand tasks to every work queue (or calls the ALB): from its
    # own service where it is not also the consumer, else from a stand-in box.
    entry = [n for n in nodes.values() if n.kind == "SQS queue"] or [
        nodes[alb] for alb in balancers if alb in nodes
    ]
    consumers = {c.logical_id for c in routing.consumers}
    senders = [
        s.logical_id for s in model.with_role(ResourceRole.WEBAPP) if s.logical_id not in consumers
    ]
    if entry and not senders:
        nodes[WEB_APP] = Node(WEB_APP, "web app", "web app (on demand)")
        senders = [WEB_APP]
    edges |= {(sender, n.node_id) for sender in senders for n in entry}
    kept = tuple((a, b) for a, b in sorted(edges) if a in nodes and b in nodes and a != b)
    return Graph(tuple(nodes.values()), kept, tuple(_shared_nodes(model)))


def _columns(graph: Graph) -> dict[str, int]:
    column = dict.fromkeys((n.node_id for n in graph.nodes), 0)
    for _ in range(len(graph.nodes)):  # longest path by relaxation; graphs are acyclic
        changed = False
        for a, b in graph.edges:
            if column[b] < column[a] + 1:
                column[b], changed = column[a] + 1, True
        if not changed:
            break
    return column


# Within a column: triggers, queues and consumers first, dead-letter queues below them.
_ORDER = {kind: i for i, kind in enumerate(k for k in _FILL if k != "dead-letter queue")}
_ORDER["dead-letter queue"] = len(_ORDER)


def render_diagram(
    model: TopologyModel,
    idle_costs: Mapping[str, float] | None = None,
    baseline_ids: frozenset[str] = frozenset(),
) -> str:
    """The diagram as SVG; ``idle_costs`` (USD a month per logical id) marks what is
    billed while idle, ``baseline_ids`` what the baseline pays for."""
    graph = build_graph(model)
    if not graph.nodes:
        return "<p>No triggers, queues or consumers in this stack.</p>"
    idle = dict(idle_costs or {})
    column = _columns(graph)
    rows: dict[int, int] = {}
    place: dict[str, tuple[float, float]] = {}

    def slot(col: int) -> tuple[float, float]:
        row = rows.get(col, 0)
        rows[col] = row + 1
        return _MARGIN + col * (_BOX_W + _COL_GAP), _MARGIN + 18 + row * (_BOX_H + _ROW_GAP)

    for node in sorted(
        graph.nodes, key=lambda n: (column[n.node_id], _ORDER.get(n.kind, 99), n.label)
    ):
        place[node.node_id] = slot(column[node.node_id])
    # An edge across columns takes a free slot in each column it passes.
    routes: list[list[tuple[float, float]]] = []
    for a, b in graph.edges:
        (x1, y1), (x2, y2) = place[a], place[b]
        points = [(x1 + _BOX_W, y1 + _BOX_H / 2)]
        for col in range(column[a] + 1, column[b]):
            sx, sy = slot(col)
            points += [(sx, sy + _BOX_H / 2), (sx + _BOX_W, sy + _BOX_H / 2)]
        points.append((x2, y2 + _BOX_H / 2))
        routes.append(points)
    columns = max(column.values()) + 1
    width = max(
        _MARGIN * 2 + columns * (_BOX_W + _COL_GAP) - _COL_GAP,
        _MARGIN * 2 + len(graph.shared) * (_BOX_W + _COL_GAP) - _COL_GAP,
    )
    flow_bottom = _MARGIN + 18 + max(rows.values()) * (_BOX_H + _ROW_GAP)
    shared_top = flow_bottom + 22
    height = shared_top + (_BOX_H + 34 if graph.shared else 10)
    svg = Svg(width, height, f"{model.label}: triggers, queues, consumers and what they use")
    svg.raw(
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#666"/></marker></defs>'
    )
    svg.text(
        _MARGIN,
        _MARGIN,
        "red border: billed while idle (0 tasks)",
        size=11,
        fill="#a00",
        class_="label",
    )
    for points in routes:
        svg.polyline(points, "#666", marker_end="url(#arrow)", stroke_width="1.2", class_="edge")

    def box(node: Node, x: float, y: float) -> None:
        cost = idle.get(node.node_id, 0.0)
        billed = cost >= 0.005
        svg.rect(
            x,
            y,
            _BOX_W,
            _BOX_H,
            _FILL.get(node.kind, "#fff"),
            stroke="#a00" if billed else "#555",
            stroke_width="2.5" if billed else "1",
            rx="5",
            class_="node idle" if billed else "node",
        )
        svg.text(x + 8, y + 14, node.kind, size=10, fill="#555", class_="label")
        if billed:
            svg.text(
                x + _BOX_W - 6,
                y + 14,
                f"${cost:,.2f}/mo idle",
                size=10,
                anchor="end",
                fill="#a00",
                class_="label",
            )
        elif node.node_id in baseline_ids:
            svg.text(
                x + _BOX_W - 6,
                y + 14,
                "baseline",
                size=10,
                anchor="end",
                fill="#555",
                class_="label",
            )
        svg.text(x + 8, y + 30, node.label, size=11, class_="label")

    for node in graph.nodes:
        box(node, *place[node.node_id])
    if graph.shared:
        svg.text(
            _MARGIN, shared_top + 4, "used by the consumers:", size=11, fill="#555", class_="label"
        )
        for i, node in enumerate(graph.shared):
            box(node, _MARGIN + i * (_BOX_W + _COL_GAP), shared_top + 12)
    return svg.render("diagram")
