"""The README's comparison figures are what the model computes for the shipped workload."""

from __future__ import annotations

import re
from pathlib import Path

from comparison.cost.estimate import Comparison
from comparison.decide.decision import decide

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_readme_quotes_the_models_monthly_totals(shipped_comparison: Comparison) -> None:
    comparison = shipped_comparison
    sentence = README[README.index("a month\ncosts, over the baseline:") :][:300]
    quoted = dict(re.findall(r"([a-z-]+) \$([0-9.]+)", sentence.replace("\n", " ")))
    computed = {
        topology.label: topology.monthly_total
        for topology in comparison.topologies
        if topology.monthly_total is not None
    }
    assert set(quoted) == set(computed), (quoted, computed)
    for label, total in computed.items():
        assert quoted[label] == f"{total:.2f}", label
    chosen = decide(comparison).chosen
    assert chosen is not None
    assert f"The recommendation is {chosen}" in README.replace("\n", " ")
