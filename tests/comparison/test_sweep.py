"""Cross-over points: where the cheapest option that keeps up changes."""

from __future__ import annotations

import pytest

from comparison.cost.estimate import SweepPoint
from comparison.decide.sweep import DEFAULT_VOLUMES, cross_overs


def _point(volume: float, totals: dict[str, float], overloaded: tuple[str, ...] = ()) -> SweepPoint:
    # As the sweep builds it: no cost at all for an option that cannot keep up.
    coping = {k: v for k, v in totals.items() if k not in overloaded}
    return SweepPoint(
        volume_per_month=volume,
        totals=coping,
        chosen=min(coping, key=coping.__getitem__) if coping else None,
        overloaded=overloaded,
    )


def test_default_sweep_spans_a_hundred_to_ten_million() -> None:
    assert DEFAULT_VOLUMES[0] == pytest.approx(1e2)
    assert DEFAULT_VOLUMES[-1] == pytest.approx(1e7)


def test_cross_over_is_interpolated_on_log_axes() -> None:
    # GIVEN a line from $1 to $100 and a flat $10 between 1e3 and 1e5
    points = [_point(1e3, {"linear": 1, "flat": 10}), _point(1e5, {"linear": 100, "flat": 10})]
    (crossing,) = cross_overs(points)
    assert (crossing.from_label, crossing.to_label) == ("linear", "flat")
    assert crossing.volume_per_month == pytest.approx(1e4)


def test_an_option_that_stops_keeping_up_is_a_capacity_limit_not_a_cross_over() -> None:
    # GIVEN "fixed" cheapest at 1e5 but unable to keep up at 1e6
    points = [
        _point(1e5, {"fixed": 1, "elastic": 10}),
        _point(1e6, {"fixed": 2, "elastic": 50}, overloaded=("fixed",)),
    ]
    # THEN the cheapest at 1e6 is the one that keeps up, without a cost for "fixed",
    # and no cost cross-over is claimed between them
    assert points[1].chosen == "elastic"
    assert "fixed" not in points[1].totals
    assert cross_overs(points) == []


def test_no_cheapest_when_nothing_keeps_up() -> None:
    point = _point(1e7, {"a": 1, "b": 2}, overloaded=("a", "b"))
    assert (point.chosen, point.totals) == (None, {})


def test_no_change_means_no_cross_over() -> None:
    assert cross_overs([_point(1, {"a": 1, "b": 2}), _point(10, {"a": 2, "b": 3})]) == []
