"""Stable results: totals move less than 1% between seeds, or the report gives the spread."""

from __future__ import annotations

from dataclasses import replace

import pytest

from comparison.report import monthly_cost

# Long: three seeds of the full simulation for each topology (1-1.5 s a topology).
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("label", ["worker-service", "webapp-poller", "lambdas"])
def test_totals_between_seeds_stay_within_the_reported_spread(
    real_models, workload, london, assumptions, label: str
) -> None:
    stack = real_models[label]
    results = [
        monthly_cost(stack, workload, london, replace(assumptions, seed=seed), free_tier=False)[0]
        for seed in (33, 34, 35)
    ]
    totals = [r.total for r in results]
    mean = sum(totals) / len(totals)
    # Each seed's own 95% half-width, or the 1% the issue asks for, whichever is larger.
    allowed = max(1.5 * max(r.spread for r in results), 0.01)
    assert (max(totals) - min(totals)) / mean <= 2 * allowed, (totals, allowed)
    if (max(totals) - min(totals)) / mean > 0.01:
        assert min(r.spread for r in results) > 0, "a spread above 1% must be reported"
