"""EmailFeedback: the configuration set and its EventBridge destination for bounces and complaints.

Each test names the AWS documentation page that says why the setting matters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template

from stacks.topologies import new_app
from task_constructs.email_feedback import EmailFeedback
from tests.conftest import cdk_json_context


@dataclass(frozen=True)
class Synth:
    stack: Stack
    email: EmailFeedback
    template: Template

    @property
    def configuration_set_id(self) -> str:
        return self.stack.get_logical_id(
            self.email.configuration_set.node.default_child  # type: ignore[arg-type]
        )

    @property
    def destination(self) -> dict[str, Any]:
        (destination,) = self.template.find_resources(
            "AWS::SES::ConfigurationSetEventDestination"
        ).values()
        return dict(destination["Properties"])


@pytest.fixture(scope="module")
def synth() -> Synth:
    """As the ``stack`` fixture, for a module-scoped fixture: one synth for every test."""
    stack = Stack(new_app(context=cdk_json_context()), "Test")
    email = EmailFeedback(stack, "Email")
    return Synth(stack, email, Template.from_stack(stack))


def test_one_configuration_set_with_one_event_destination_on_it(synth: Synth) -> None:
    # "AWS::SES::ConfigurationSetEventDestination": the destination names its configuration set.
    synth.template.resource_count_is("AWS::SES::ConfigurationSet", 1)
    synth.template.resource_count_is("AWS::SES::ConfigurationSetEventDestination", 1)
    assert synth.destination["ConfigurationSetName"] == {"Ref": synth.configuration_set_id}


def test_destination_is_the_default_event_bus_and_nothing_else(synth: Synth) -> None:
    # "AWS::SES::ConfigurationSetEventDestination EventBridgeDestination": EventBusArn, "Only
    # the default bus is supported". One destination type per event destination.
    destination = synth.destination["EventDestination"]
    assert destination["EventBridgeDestination"] == {
        "EventBusArn": {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":events:",
                    {"Ref": "AWS::Region"},
                    ":",
                    {"Ref": "AWS::AccountId"},
                    ":event-bus/default",
                ],
            ]
        }
    }
    assert set(destination) == {"Enabled", "EventBridgeDestination", "MatchingEventTypes"}


def test_destination_is_enabled_for_bounces_and_complaints_only(synth: Synth) -> None:
    # "AWS::SES::ConfigurationSetEventDestination EventDestination": MatchingEventTypes takes
    # send, reject, bounce, complaint, delivery, ... in lower case; Enabled publishes them.
    destination = synth.destination["EventDestination"]
    assert destination["Enabled"] is True
    assert sorted(destination["MatchingEventTypes"]) == ["bounce", "complaint"]


def test_name_is_the_configuration_sets_ref(synth: Synth) -> None:
    # "AWS::SES::ConfigurationSet": Ref returns the configuration set's name, which SendEmail
    # takes as ConfigurationSetName.
    assert synth.stack.resolve(synth.email.name) == {"Ref": synth.configuration_set_id}
