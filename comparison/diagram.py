"""A diagram of one topology, drawn from its template: triggers -> queues -> consumers.

Nodes are the resources that carry work; edges follow their references (schedule and
rule targets, event source mappings, the queues a service's task definition names, the
load balancer in front of a service). Columns are the longest path from a trigger.
"""

from __future__ import annotations

from dataclasses import dataclass

from comparison.model import TopologyModel
from comparison.svg import Svg
from comparison.templates import Resource, ref_target

WEB_APP = "(web app)"
_KINDS = {
    "AWS::Scheduler::Schedule": "schedule",
    "AWS::Events::Rule": "event rule",
    "AWS::SQS::Queue": "SQS queue",
    "AWS::Lambda::Function": "Lambda",
    "AWS::ECS::Service": "Fargate service",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "internal ALB",
}
_FILL = {
    "schedule": "#fdf1d8",
    "event rule": "#fdf1d8",
    "SQS queue": "#e3effa",
    "Lambda": "#e2f4ec",
    "Fargate service": "#e2f4ec",
    "internal ALB": "#f3e5ef",
    "web app": "#eeeeee",
}
_BOX_W, _BOX_H, _COL_GAP, _ROW_GAP, _MARGIN = 190.0, 38.0, 60.0, 12.0, 16.0


@dataclass(frozen=True)
class Node:
    node_id: str
    kind: str
    label: str


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...]


def _label(resource: Resource) -> str:
    parts = [p for p in resource.path.split("/")[1:] if p not in ("Resource", "Default")]
    # Queue/Queue and Schedule1/Schedule say nothing twice: keep the more specific one.
    parts = [
        p for i, p in enumerate(parts) if i + 1 == len(parts) or not p.startswith(parts[i + 1])
    ]
    name = "/".join(parts[-2:]) if parts else resource.logical_id
    role = f" [{resource.role}]" if resource.role else ""
    return (name[:26] + "…" if len(name) > 27 else name) + role


def _carries_work(model: TopologyModel, resource: Resource) -> bool:
    if resource.type not in _KINDS or resource.logical_id in model.dead_letter_queues:
        return False
    if resource.type != "AWS::Lambda::Function" or resource.role:
        return True
    # CDK's own custom-resource functions carry no tasks: keep fed or triggered ones only.
    fed = model.template.referrers(resource.logical_id, "AWS::Lambda::EventSourceMapping")
    return bool(fed) or any(resource.logical_id in t.target_ids for t in model.triggers)


def build_graph(model: TopologyModel) -> Graph:
    """Triggers -> queues -> consumers, from the topology model."""
    template = model.template
    nodes = {
        r.logical_id: Node(r.logical_id, _KINDS[r.type], _label(r))
        for r in template.resources.values()
        if _carries_work(model, r)
    }
    edges: set[tuple[str, str]] = {
        (t.resource.logical_id, target) for t in model.triggers for target in t.target_ids
    }
    for r in template.resources.values():
        if r.type == "AWS::Lambda::EventSourceMapping":
            source = ref_target(r.properties.get("EventSourceArn"))
            function = ref_target(r.properties.get("FunctionName"))
            if source and function:
                edges.add((source, function))
    routing = model.routing
    for consumer in routing.consumers:
        edges |= {(queue, consumer.logical_id) for queue in consumer.queues}
    balancers = [
        r.logical_id for r in template.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer")
    ]
    for service in template.of_type("AWS::ECS::Service"):
        if service.properties.get("LoadBalancers"):
            edges |= {(alb, service.logical_id) for alb in balancers}
    for invoker in template.with_role("invoker"):
        edges |= {(invoker.logical_id, alb) for alb in balancers}
    # The web app sends on-demand tasks to every work queue (or calls the ALB): from its
    # own service where it is not also the consumer, else from a stand-in box.
    entry = [n for n in nodes.values() if n.kind == "SQS queue"] or [
        nodes[alb] for alb in balancers if alb in nodes
    ]
    consumers = {c.logical_id for c in routing.consumers}
    senders = [s.logical_id for s in template.with_role("webapp") if s.logical_id not in consumers]
    if entry and not senders:
        nodes[WEB_APP] = Node(WEB_APP, "web app", "web app (on demand)")
        senders = [WEB_APP]
    edges |= {(sender, n.node_id) for sender in senders for n in entry}
    kept = tuple((a, b) for a, b in sorted(edges) if a in nodes and b in nodes)
    return Graph(tuple(nodes.values()), kept)


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


def render_diagram(model: TopologyModel) -> str:
    template = model.template
    graph = build_graph(model)
    if not graph.nodes:
        return "<p>No triggers, queues or consumers in this stack.</p>"
    column = _columns(graph)
    rows: dict[int, int] = {}
    place: dict[str, tuple[float, float]] = {}
    for node in sorted(graph.nodes, key=lambda n: (column[n.node_id], n.kind, n.label)):
        col = column[node.node_id]
        row = rows.get(col, 0)
        rows[col] = row + 1
        place[node.node_id] = (
            _MARGIN + col * (_BOX_W + _COL_GAP),
            _MARGIN + row * (_BOX_H + _ROW_GAP),
        )
    width = _MARGIN * 2 + (max(column.values()) + 1) * (_BOX_W + _COL_GAP) - _COL_GAP
    height = _MARGIN * 2 + max(rows.values()) * (_BOX_H + _ROW_GAP)
    svg = Svg(width, height, f"{template.label}: triggers, queues and consumers")
    svg.raw(
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#666"/></marker></defs>'
    )
    for a, b in graph.edges:
        (x1, y1), (x2, y2) = place[a], place[b]
        svg.line(
            x1 + _BOX_W, y1 + _BOX_H / 2, x2, y2 + _BOX_H / 2, "#666", marker_end="url(#arrow)"
        )
    for node in graph.nodes:
        x, y = place[node.node_id]
        svg.rect(
            x, y, _BOX_W, _BOX_H, _FILL.get(node.kind, "#fff"), stroke="#555", rx="5", class_="node"
        )
        svg.text(x + 8, y + 15, node.kind, size=10, fill="#555")
        svg.text(x + 8, y + 30, node.label, size=11)
    return svg.render("diagram")
