"""Start-up checks that tell a passing service fault from a misconfiguration.

A consumer checks, before it takes any message, that it can use its ledger table, its
dead-letter queue and its queue. Two kinds of failure look alike there and need
opposite answers:

* **a passing fault** (throttling, a 5xx, a read timeout): the deployment is right and
  the service will answer soon. Replacing the task would not help, and under gunicorn
  it would stop the web app too. So the check is retried with capped exponential
  backoff, and the consumer starts once it passes;
* **a misconfiguration** (a missing table or queue, denied access, a URL that cannot
  be reached or parsed): retrying runs against the same settings. So it fails at once
  with one :class:`ConfigurationError` line naming the setting (the worker exits 2).

The checks wrap the service's error in ConfigurationError; the wrapped error (its
``__cause__``) tells which kind it was.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from botocore.exceptions import ClientError, ReadTimeoutError

from runtime.errors import ConfigurationError
from runtime.log import logger

__all__ = ["Preflight", "StartupBackoff", "StartupStopped", "is_passing_fault"]

# Throttling and server-side codes, as botocore's standard retry mode lists them
# (botocore.retries.standard: throttled and transient error codes), plus the 5xx
# codes DynamoDB and SQS answer with.
_PASSING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalServerError",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
_TOO_MANY_REQUESTS = 429
_FIRST_SERVER_ERROR = 500


class StartupStopped(Exception):  # noqa: N818 - a request, not a fault
    """A stop was requested while the start-up checks were still waiting on a service."""


class _Waiter(Protocol):
    def wait(self, timeout: float) -> bool: ...


@dataclass(frozen=True)
class StartupBackoff:
    """Delay before retrying a check: 1, 2, 4 ... s up to 30 s, with jitter.

    Jitter (a random 50-100 % of the delay) keeps a fleet started together by one
    deployment from retrying a throttled table in step.
    """

    first_seconds: float = 1.0
    max_seconds: float = 30.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_seconds, self.first_seconds * 2.0 ** min(max(attempt - 1, 0), 30))
        return ceiling * random.uniform(0.5, 1.0)


def is_passing_fault(error: BaseException) -> bool:
    """Throttling, a 5xx or a read timeout, in ``error`` or the error it wraps."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ReadTimeoutError):
            return True
        if isinstance(seen, ClientError):
            code = seen.response.get("Error", {}).get("Code", "")
            status = seen.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            return (
                code in _PASSING_CODES
                or status == _TOO_MANY_REQUESTS
                or status >= _FIRST_SERVER_ERROR
            )
        seen = seen.__cause__
    return False


Check = tuple[str, Callable[[], None]]


class Preflight:
    """Named checks run in order; a check that passed is not run again.

    ``attempt`` runs them once; ``wait`` retries until they pass. Both raise
    ConfigurationError for a misconfiguration.
    """

    def __init__(
        self,
        checks: Sequence[Check],
        *,
        backoff: StartupBackoff | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pending = list(checks)
        self._backoff = backoff if backoff is not None else StartupBackoff()
        self._clock = clock
        self._attempts = 0

    @property
    def passed(self) -> bool:
        return not self._pending

    def attempt(self) -> bool:
        """Run the checks not passed yet; False if a service answered with a passing fault."""
        self._attempts += 1
        while self._pending:
            name, check = self._pending[0]
            try:
                check()
            except ConfigurationError as error:
                if not is_passing_fault(error):
                    raise
                self._deferred(name, error)
                return False
            except Exception as error:
                if not is_passing_fault(error):
                    raise ConfigurationError(f"{name}: {error}") from error
                self._deferred(name, error)
                return False
            self._pending.pop(0)
        return True

    def _deferred(self, name: str, error: Exception) -> None:
        logger.warning(
            "start-up check deferred: the service is throttling or failing; retrying",
            extra={"check": name, "attempt": self._attempts, "error": str(error)},
        )

    def wait(self, stop: _Waiter | None = None, *, budget_seconds: float | None = None) -> bool:
        """Retry with backoff until every check passes (True).

        False when ``stop`` is set while waiting, or when the next retry would start past
        ``budget_seconds`` (the Lambda init's time).
        """
        started = self._clock()
        while not self.attempt():
            delay = self._backoff.delay(self._attempts)
            if budget_seconds is not None and self._clock() + delay - started > budget_seconds:
                return False
            if stop is not None:
                if stop.wait(delay):
                    return False
            else:
                time.sleep(delay)
        return True
