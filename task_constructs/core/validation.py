"""Shared checks: collect every violation, then raise one ValueError naming the construct."""

from collections.abc import Sequence

from aws_cdk import Duration, Token
from constructs import Construct


def fail_if_any(kind: str, scope: Construct, construct_id: str, violations: Sequence[str]) -> None:
    """Raise one error listing every violation, prefixed with where it happened."""
    if not violations:
        return
    path = f"{scope.node.path}/{construct_id}" if scope.node.path else construct_id
    if len(violations) == 1:
        raise ValueError(f"{kind} at {path}: {violations[0]}")
    raise ValueError(f"{kind} at {path}:\n  - " + "\n  - ".join(violations))


def fail_props(kind: str, violations: Sequence[str]) -> None:
    """Raise from a props ``__post_init__``, before the construct path is known."""
    if violations:
        raise ValueError(f"{kind}: " + "; ".join(violations))


def seconds(duration: Duration | None) -> float | None:
    """The duration in seconds, or None when absent or an unresolved token."""
    if duration is None or Token.is_unresolved(duration.to_seconds()):
        return None
    return duration.to_seconds()


def exactly_one(**candidates: object) -> list[str]:
    """A violation unless exactly one of the named values is set."""
    given = [name for name, value in candidates.items() if value is not None]
    if len(given) == 1:
        return []
    names = " or ".join(f"'{name}'" for name in candidates)
    if not given:
        return [f"set one of {names}"]
    return [f"set only one of {names}, got {', '.join(repr(n) for n in given)}"]
