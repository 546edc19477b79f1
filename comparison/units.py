"""How the report writes a duration, for the decision's reasons and every renderer."""

from __future__ import annotations


def seconds(value: float) -> str:
    """ "12.0 s", "4.5 min" (from 2 minutes) or "1.2 h" (from an hour)."""
    if value >= 3600:
        return f"{value / 3600:.1f} h"
    if value >= 120:
        return f"{value / 60:.1f} min"
    return f"{value:.1f} s"
