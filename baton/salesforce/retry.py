"""When an owner write is tried again, and when it is given up: pure functions of a write's history.

A write that failed transiently (Salesforce answered 5xx or 429, ``UNABLE_TO_LOCK_ROW`` or
``REQUEST_LIMIT_EXCEEDED``, or could not be reached; the adapters type these as ``retry`` results) stays pending
and is tried again after a capped exponential backoff: ``min``, ``2 min``, ``4 min``, ... up to ``max``. It is
given up (failed and dead-lettered) only when Salesforce refuses it for good, or when it kept failing for the
whole retry window after its first failure (24 hours by default, as Salesforce retries its outbound messages),
or, where a policy counts attempts instead (batch jobs' Bulk API writes), after ``max_attempts`` attempts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kernel.ports import WriteResult
from kernel.ports.outbox import PendingWrite

DOUBLINGS_BEFORE_ANY_CAP = 40  # 2**40 times any minimum is beyond any cap: no need to compute larger powers
RETRY = "retry"  # an owner writer's status for a write that failed transiently
FAILED = "failed"  # ... and for a write Salesforce refused as a whole, for good


@dataclass(frozen=True)
class RetryPolicy:
    min_backoff_ms: int = 1_000
    max_backoff_ms: int = 300_000
    window: timedelta | None = timedelta(hours=24)
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        if self.window is None and self.max_attempts is None:
            raise ValueError("a retry policy needs a window or a number of attempts, or it never gives up")
        if not 0 < self.min_backoff_ms <= self.max_backoff_ms:
            raise ValueError(f"backoff needs 0 < min ({self.min_backoff_ms}) <= max ({self.max_backoff_ms})")

    def backoff(self, failures: int) -> timedelta:
        """The wait after a write's ``failures``-th failed attempt (1 for the first): the minimum, doubled for
        each failure before, capped at the maximum."""
        doublings = min(max(failures - 1, 0), DOUBLINGS_BEFORE_ANY_CAP)
        return timedelta(milliseconds=min(self.max_backoff_ms, self.min_backoff_ms * 2 ** doublings))

    def gives_up(self, failures: int, failing_since: datetime, now: datetime) -> bool:
        """Whether a write that has now failed ``failures`` times, the first at ``failing_since``, is given up."""
        if self.max_attempts is not None and failures >= self.max_attempts:
            return True
        return self.window is not None and now - failing_since >= self.window


class Verdict(StrEnum):
    DONE = "done"  # an outcome Salesforce (or the writer) gave: sent, rejected, unchanged, superseded, ...
    RETRY = "retry"
    FAIL = "fail"


def verdict(result: WriteResult, row: PendingWrite, policy: RetryPolicy, now: datetime) -> Verdict:
    """What to do with a row after its write attempt: store the outcome, try again later, or give it up."""
    if result.ok:
        return Verdict.DONE
    if result.status != RETRY:
        return Verdict.FAIL
    failing_since = row.retrying_since or now
    return Verdict.FAIL if policy.gives_up(row.attempts + 1, failing_since, now) else Verdict.RETRY
