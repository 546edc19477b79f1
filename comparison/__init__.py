"""Cost and latency comparison of the ADR-0033 topologies, from the synthesized templates.

Entry points: ``python -m comparison`` (see :mod:`comparison.cli`) and
:func:`comparison.cost.estimate.compare`, which returns the data every output format renders.
"""

from comparison.errors import ComparisonError, PriceTableError, TemplateError, WorkloadError

__all__ = ["ComparisonError", "PriceTableError", "TemplateError", "WorkloadError"]
