"""Email feedback: SES publishes bounces and complaints to EventBridge.

The configuration set carries every bulk email; its event destination sends bounce
and complaint events to the default bus, where the email-feedback task's rule picks
them up. Configuration sets and event publishing to EventBridge cost nothing extra.
"""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_ses as ses
from constructs import Construct


class EmailFeedback(Construct):
    """``ConfigurationSet`` with a ``ToEventBridge`` destination for bounces and complaints."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.configuration_set = ses.ConfigurationSet(self, "ConfigurationSet")
        self.configuration_set.add_event_destination(
            "ToEventBridge",
            destination=ses.EventDestination.event_bus(
                events.EventBus.from_event_bus_name(self, "DefaultBus", "default")
            ),
            events=[ses.EmailSendingEvent.BOUNCE, ses.EmailSendingEvent.COMPLAINT],
        )

    @property
    def name(self) -> str:
        return self.configuration_set.configuration_set_name
