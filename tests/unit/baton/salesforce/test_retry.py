"""The owner writes' retry schedule: capped exponential backoff for a window after the first failure, and
what each write result leads to (stored, tried again, given up)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from baton.salesforce.retry import RetryPolicy, Verdict, verdict
from kernel.ports import WriteResult
from kernel.ports.outbox import PendingWrite

NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)
DEFAULT = RetryPolicy()


def pending(attempts: int = 0, retrying_since: datetime | None = None) -> PendingWrite:
    return PendingWrite("r-1", "Lead", "00Q000000000001AAA", "005000000000001AAA", attempts, None, 1, 0,
                        NOW - timedelta(hours=1), retrying_since)


def test_the_backoff_doubles_from_the_minimum_and_stops_at_the_cap() -> None:
    waits = [DEFAULT.backoff(failures).total_seconds() for failures in range(1, 13)]

    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]


def test_the_backoff_stays_at_the_cap_however_many_failures_a_day_brings() -> None:
    policy = RetryPolicy(min_backoff_ms=500, max_backoff_ms=900_000)

    assert policy.backoff(0) == policy.backoff(1) == timedelta(milliseconds=500)
    assert policy.backoff(100_000) == timedelta(minutes=15)


def test_a_day_of_retries_at_the_default_schedule_is_a_few_hundred_attempts() -> None:
    """Salesforce away for the whole window: the write is tried about every 5 minutes, then given up."""
    attempts, elapsed = 0, timedelta(0)
    while not DEFAULT.gives_up(attempts + 1, NOW, NOW + elapsed):
        attempts += 1
        elapsed += DEFAULT.backoff(attempts)

    assert elapsed >= timedelta(hours=24) and elapsed - timedelta(hours=24) <= timedelta(minutes=5)
    assert 280 <= attempts <= 300


def test_a_write_is_given_up_at_the_end_of_the_window_counted_from_its_first_failure() -> None:
    assert not DEFAULT.gives_up(200, NOW, NOW + timedelta(hours=23, minutes=59))
    assert DEFAULT.gives_up(200, NOW, NOW + timedelta(hours=24))


def test_a_policy_counting_attempts_gives_up_after_them() -> None:
    jobs = RetryPolicy(window=None, max_attempts=3)

    assert not jobs.gives_up(2, NOW, NOW + timedelta(days=9))
    assert jobs.gives_up(3, NOW, NOW)


@pytest.mark.parametrize(("arguments", "message"), [
    ({"window": None}, "never gives up"),
    ({"min_backoff_ms": 0}, "backoff needs"),
    ({"min_backoff_ms": 10_000, "max_backoff_ms": 1_000}, "backoff needs"),
])
def test_a_policy_that_could_not_work_is_refused(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", ["sent", "rejected", "unchanged", "not_configured", "superseded"])
def test_an_outcome_salesforce_gave_is_stored(status: str) -> None:
    assert verdict(WriteResult("r-1", True, status), pending(), DEFAULT, NOW) is Verdict.DONE


def test_a_write_refused_for_good_fails_at_once() -> None:
    refused = WriteResult("r-1", False, "failed", "Salesforce refused the sObject Collections call (400)")

    assert verdict(refused, pending(), DEFAULT, NOW) is Verdict.FAIL


def test_a_transient_failure_is_retried_within_the_window_and_given_up_after_it() -> None:
    busy = WriteResult("r-1", False, "retry", "Salesforce answered 503 to the sObject Collections call")
    first = pending()
    since = NOW - timedelta(hours=3)

    assert verdict(busy, first, DEFAULT, NOW) is Verdict.RETRY  # the first failure starts the window now
    assert verdict(busy, pending(40, since), DEFAULT, NOW) is Verdict.RETRY
    assert verdict(busy, pending(300, since), DEFAULT, since + timedelta(hours=24)) is Verdict.FAIL
