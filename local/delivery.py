"""What Scheduler and EventBridge deliver to a target, rendered from the template.

moto runs neither, so the emulator (``local.fire``) and the wiring tests
(``tests/stacks/test_envelope_contract.py``) render the deliveries here, as the two
services document them:
- Scheduler substitutes its context attributes into the target's ``Input``
  ("Adding context attributes in EventBridge Scheduler");
- EventBridge fills an input transformer's ``InputTemplate`` from ``InputPathsMap``
  and puts the whole event at ``<aws.events.event.json>`` ("Amazon EventBridge input
  transformation", and the "InputTransformer" API reference). Only JSON templates are
  rendered (a placeholder becomes the JSON value), and only ``$.a.b`` paths: the shapes
  the constructs write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def scheduler_delivery(input_template: str, *, execution_id: str, scheduled_time: str) -> str:
    """The body Scheduler sends for one run of a schedule with this ``Input``."""
    return input_template.replace("<aws.scheduler.execution-id>", execution_id).replace(
        "<aws.scheduler.scheduled-time>", scheduled_time
    )


def eventbridge_delivery(transformer: Mapping[str, Any], event: Mapping[str, Any]) -> str:
    """The body EventBridge sends for ``event`` through an input ``transformer``."""
    text = str(transformer["InputTemplate"])
    for name, path in transformer.get("InputPathsMap", {}).items():
        value: Any = event
        for part in str(path).removeprefix("$.").split("."):
            value = value[part]
        text = text.replace(f"<{name}>", json.dumps(value))
    return text.replace("<aws.events.event.json>", json.dumps(event))
