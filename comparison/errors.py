"""Typed errors of the comparison tool; each message names the field, the value and the fix."""

from __future__ import annotations


class ComparisonError(Exception):
    """Base of every error the comparison tool raises on bad input."""


class _ProblemListError(ComparisonError):
    """An error that reports every problem found at once, one per line."""

    heading = "invalid input"

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        if len(self.problems) == 1:  # one problem, one line
            super().__init__(f"{self.heading}: {self.problems[0]}")
        else:
            super().__init__(f"{self.heading}:\n  - " + "\n  - ".join(self.problems))


class WorkloadError(_ProblemListError):
    """The workload file has one or more bad fields."""

    heading = "invalid workload"


class PriceTableError(_ProblemListError):
    """A price table is missing, malformed, or lacks an entry the model needs."""

    heading = "invalid price table"


class TemplateError(ComparisonError):
    """No usable CloudFormation templates were found, or one could not be read."""
