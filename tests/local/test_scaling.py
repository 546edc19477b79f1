"""The emulator's worker-service scaling is the comparison's: one autoscaler model, one
reading of the template's policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from comparison.inputs.assumptions import DEFAULT_ASSUMPTIONS
from comparison.inputs.prices import known_regions
from comparison.inputs.templates import parse_template
from comparison.inputs.workload import DEFAULT_WORKLOAD_PATH, load_workload
from comparison.model.autoscaler import Autoscaler, Observation
from comparison.model.topology import topology_model
from comparison.simulate.latency import fleet_scaling
from local.emulator import MotoServer
from local.scaling import LocalAutoscaler, MetricTarget, worker_scaling

WORKER_TEMPLATE = "AsyncTasks-WorkerService.template.json"
# (visible, in flight) a minute: idle, one message (the wake-up), a burst far above the
# target (scale-out after 3 datapoints), then idle again (scale-in after 15).
STREAM = [(0, 0)] * 2 + [(1, 0)] + [(0, 1)] * 2 + [(60, 4)] * 5 + [(0, 0)] * 20


class _Queue:
    """A moto queue holding exactly the counts asked for, datapoint by datapoint."""

    def __init__(self) -> None:
        self.sqs: Any = boto3.client("sqs")
        self.url = self.sqs.create_queue(QueueName="scaling-agreement")["QueueUrl"]
        self.held: list[str] = []  # receipt handles of the in-flight messages

    def _receive(self, count: int, visibility: int) -> list[str]:
        handles: list[str] = []
        while len(handles) < count:
            got = self.sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=min(10, count - len(handles)),
                VisibilityTimeout=visibility,
            ).get("Messages", [])
            assert got, "moto returned no message"
            handles += [m["ReceiptHandle"] for m in got]
        return handles

    def hold(self, visible: int, in_flight: int) -> None:
        waiting = int(
            self.sqs.get_queue_attributes(
                QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
        )
        for handle in self.held + self._receive(waiting, 3600):
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=handle)
        for first in range(0, visible + in_flight, 10):
            size = min(10, visible + in_flight - first)
            entries = [{"Id": str(i), "MessageBody": "{}"} for i in range(size)]
            self.sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
        self.held = self._receive(in_flight, 3600)


@pytest.fixture
def queue(emulator: MotoServer) -> _Queue:
    return _Queue()


def test_emulator_and_simulation_step_the_same_desired_counts(
    cloud_assembly: Path, queue: _Queue
) -> None:
    path = cloud_assembly / WORKER_TEMPLATE
    # GIVEN the worker service as the simulation reads it (the comparison's fleet) ...
    stack = parse_template("AsyncTasks-WorkerService", json.loads(path.read_text()))
    workload = load_workload(DEFAULT_WORKLOAD_PATH, known_regions=known_regions())
    (consumer,) = topology_model(stack, tuple(t.name for t in workload.tasks)).routing.consumers
    simulation = Autoscaler(fleet_scaling(consumer, workload, DEFAULT_ASSUMPTIONS))
    # ... and as the emulator reads it, observing a real (moto) queue
    emulator = LocalAutoscaler(worker_scaling(path), MetricTarget(queue.url, "tasks", "workers"))
    assert emulator.params == simulation.params
    # WHEN both see the same datapoint stream, the service's tasks following the count
    emulated, simulated = [emulator.desired], [simulation.desired]
    for minute, (visible, in_flight) in enumerate(STREAM, start=1):
        queue.hold(visible, in_flight)
        running = emulated[-1]
        emulated.append(emulator.decide(running, 0)[0])
        seen = Observation(visible, in_flight, running, 0)
        simulated.append(simulation.observe(minute * 60.0, seen).desired)
    # THEN the same counts, through a wake-up, a scale-out and the scale-in back to zero
    assert emulated == simulated
    assert emulated[:4] == [0, 0, 0, 1]
    assert max(emulated) == simulation.params.max_capacity
    assert emulated[-1] == 0
