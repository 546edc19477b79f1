"""Topology diagrams are derived from resources and their references."""

from __future__ import annotations

from comparison.model.topology import topology_model
from comparison.render.diagram import WEB_APP, build_graph
from tests.comparison.helpers import arn, event_source, resource, template


def test_schedule_queue_and_function_are_linked_by_their_references() -> None:
    stack = template(
        {
            "Dlq": resource("AWS::SQS::Queue"),
            "Queue": resource(
                "AWS::SQS::Queue", {"RedrivePolicy": {"deadLetterTargetArn": arn("Dlq")}}
            ),
            "Nightly": resource(
                "AWS::Scheduler::Schedule",
                {"ScheduleExpression": "rate(1 day)", "Target": {"Arn": arn("Queue")}},
            ),
            "Fn": resource("AWS::Lambda::Function", {}),
            "Esm": event_source("Fn", "Queue"),
            "CdkHelper": resource("AWS::Lambda::Function", {}),
        }
    )
    graph = build_graph(topology_model(stack, ()))
    ids = {node.node_id for node in graph.nodes}
    assert ids == {"Queue", "Dlq", "Nightly", "Fn", WEB_APP}  # no helper function
    kinds = {node.node_id: node.kind for node in graph.nodes}
    assert kinds["Dlq"] == "dead-letter queue"
    assert set(graph.edges) == {
        ("Nightly", "Queue"),
        ("Queue", "Fn"),
        ("Queue", "Dlq"),
        (WEB_APP, "Queue"),
    }


def test_fixture_endpoint_is_reached_through_its_load_balancer(fixture_templates) -> None:
    graph = build_graph(topology_model(fixture_templates["Fixture-PrivateEndpoints"], ()))
    kinds = {node.node_id: node.kind for node in graph.nodes}
    pairs = {(kinds[a], kinds[b]) for a, b in graph.edges}
    assert ("internal ALB", "Fargate service") in pairs
    assert ("schedule", "Lambda") in pairs and ("Lambda", "internal ALB") in pairs
