"""The consumer's in-hand states: every change through one method that says if it happened."""

from __future__ import annotations

import threading
import time

import pytest

from runtime.idempotency import Claim
from runtime.in_hand import EntryState, InHand
from runtime.registry import TaskSpec
from runtime.settlement import Message


def _message(n: int) -> Message:
    return Message(
        queue_url="q", message_id=f"m{n}", receipt_handle=f"h{n}", body="{}", receive_count=1
    )


def _spec() -> TaskSpec:
    return TaskSpec(name="probe", handle=lambda payload, context: None, max_duration_seconds=4)


class _Never:
    def is_set(self) -> bool:
        return False


def test_a_settling_entry_can_no_longer_be_abandoned() -> None:
    in_hand = InHand()
    entry = in_hand.add(_message(1), deadline=time.monotonic() + 30)
    assert in_hand.change(entry, EntryState.SETTLING)
    assert not in_hand.change(entry, EntryState.ABANDONED)
    assert in_hand.change(entry, EntryState.DONE)
    assert len(in_hand) == 0


def test_an_abandoned_entry_cannot_be_settled() -> None:
    in_hand = InHand()
    entry = in_hand.add(_message(1), deadline=time.monotonic() + 30)
    assert in_hand.change(entry, EntryState.ABANDONED)
    assert not in_hand.change(entry, EntryState.SETTLING)
    assert in_hand.count(frozenset({EntryState.ABANDONED})) == 1


def test_settling_waits_for_a_visibility_extension_in_flight() -> None:
    in_hand = InHand()
    entry = in_hand.add(_message(1), deadline=time.monotonic())
    (pinned,) = in_hand.pin_due(time.monotonic() + 1)
    moved = threading.Event()

    def move() -> None:
        if in_hand.change(entry, EntryState.SETTLING):
            moved.set()

    mover = threading.Thread(target=move)
    mover.start()
    assert not moved.wait(0.2)  # the extension's call is still in flight
    in_hand.unpin([pinned], extended={0}, deadline=time.monotonic() + 30)
    assert moved.wait(2)
    mover.join()


@pytest.mark.parametrize("ended", [0, 1])
def test_nothing_starts_beside_a_claim_that_ended_its_process(ended: int) -> None:
    # GIVEN a running handler, and a claim that ended its process before
    in_hand = InHand()
    running = in_hand.add(_message(1), deadline=time.monotonic() + 30)
    assert in_hand.admit(running, Claim(key="a", owner="o"), _spec(), _Never())
    suspect = in_hand.add(_message(2), deadline=time.monotonic() + 30)
    admitted: list[bool] = []
    waiter = threading.Thread(
        target=lambda: admitted.append(
            in_hand.admit(suspect, Claim(key="b", owner="o", ended=1), _spec(), _Never())
        )
    )
    waiter.start()
    time.sleep(0.2)
    # THEN it waits for the running one, no receive is made meanwhile, and any other
    # claim arriving beside it is deferred
    assert admitted == []
    assert in_hand.wait_for_room(4, _StopAfter(0.3), linger=0) == 0
    other = in_hand.add(_message(3), deadline=time.monotonic() + 30)
    assert not in_hand.admit(other, Claim(key="c", owner="o", ended=ended), _spec(), _Never())
    in_hand.handler_returned(running)
    waiter.join(2)
    assert admitted == [True]


class _StopAfter:
    def __init__(self, seconds: float) -> None:
        self._until = time.monotonic() + seconds

    def is_set(self) -> bool:
        return time.monotonic() > self._until
