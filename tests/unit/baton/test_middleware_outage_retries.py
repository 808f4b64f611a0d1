"""While the database (or the broker) cannot be reached, a message is retried without using up its
retries: an outage longer than the retry budget dead-letters nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest
import sqlalchemy as sa

from baton.middleware import GuardedRetries
from kernel.errors import DependencyUnavailable
from tests.support.configs import team_config
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline


def database_unreachable(message: str) -> Exception:
    return sa.exc.OperationalError("INSERT INTO assignment_stream ...", {}, psycopg.OperationalError(
        f'connection to server at "127.0.0.1", port 5432 failed: Connection refused ({message})'))


def store_says_unavailable(message: str) -> Exception:
    """What Store.transaction raises for the same trouble."""
    return DependencyUnavailable(f"database unavailable: server closed the connection unexpectedly ({message})")


@pytest.fixture
def guard(pipeline: Pipeline) -> Iterator[GuardedRetries]:
    guard = next(m for m in pipeline.broker.middleware if isinstance(m, GuardedRetries))
    outage_ms = guard.outage_ms
    yield guard
    guard.outage_ms = outage_ms


@pytest.mark.parametrize("error", [database_unreachable, store_says_unavailable])
def test_an_outage_longer_than_the_retry_budget_is_waited_out_and_the_record_finishes_once(
    pipeline: Pipeline, guard: GuardedRetries, error: Callable[[str], Exception]
) -> None:
    pipeline.apply(team_config(members=2))
    pipeline.sink.error = error
    pipeline.sink.failures = guard.max_retries + 3
    pipeline.send([lead_event(1)])
    pipeline.drain()

    assert pipeline.sink.calls == guard.max_retries + 4
    assert pipeline.store.administration.dead_letters() == []
    assert [log.record_id for log in pipeline.sink.published] == ["00Q000000000001AAA"]
    assert pipeline.store.decisions.count_assignments() == 1


def test_with_outage_retries_off_the_same_outage_dead_letters_the_message(
    pipeline: Pipeline, guard: GuardedRetries
) -> None:
    guard.outage_ms = 0
    pipeline.apply(team_config(members=2))
    pipeline.sink.error = database_unreachable
    pipeline.sink.failures = guard.max_retries + 3
    pipeline.send([lead_event(1)])
    pipeline.drain()

    [letter] = pipeline.store.administration.dead_letters()
    assert "OperationalError" in letter.reason
    assert pipeline.sink.published == []


def test_an_error_that_is_not_an_outage_still_uses_up_the_retries(pipeline: Pipeline, guard: GuardedRetries) -> None:
    pipeline.apply(team_config(members=2))
    pipeline.sink.failures = guard.max_retries + 3  # TransientError: Salesforce or a service said no
    pipeline.send([lead_event(1)])
    pipeline.drain()

    assert len(pipeline.store.administration.dead_letters()) == 1
    assert pipeline.sink.calls == guard.max_retries + 1
