"""A retry whose re-enqueue fails must not ack the original: it is dead-lettered, stored and replayable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.errors import ConnectionClosed

from baton.middleware import GuardedRetries
from tests.support.configs import team_config
from tests.support.events import lead_event
from tests.support.pipeline import Pipeline


@pytest.fixture
def delayed_enqueue_fails(pipeline: Pipeline) -> Iterator[dict[str, int]]:
    """The broker refuses delayed (retry) enqueues, as RabbitMQ does when its connection drops."""
    broker = pipeline.broker
    original = broker.enqueue
    refused = {"count": 0}

    def enqueue(message, *, delay=None):  # type: ignore[no-untyped-def]
        if delay is not None:
            refused["count"] += 1
            raise ConnectionClosed(OSError("connection reset by peer"))
        return original(message, delay=delay)

    broker.enqueue = enqueue  # type: ignore[method-assign]
    try:
        yield refused
    finally:
        broker.enqueue = original  # type: ignore[method-assign]


def test_failed_retry_enqueue_dead_letters_instead_of_acking(
    pipeline: Pipeline, delayed_enqueue_fails: dict[str, int]
) -> None:
    pipeline.apply(team_config(members=2))
    pipeline.sink.failures = 1
    pipeline.send([lead_event(1)])
    pipeline.drain()

    assert delayed_enqueue_fails["count"] == 1
    assert isinstance(pipeline.broker, StubBroker)
    assert [m.actor_name for m in pipeline.broker.dead_letters] == ["writeback"]
    [letter] = pipeline.store.administration.dead_letters()
    assert letter.reason.startswith("retry could not be enqueued: ConnectionClosed")
    assert pipeline.sink.published == []


def test_replayed_dead_letter_completes_the_record_once(
    pipeline: Pipeline, delayed_enqueue_fails: dict[str, int]
) -> None:
    pipeline.apply(team_config(members=2))
    pipeline.sink.failures = 1
    pipeline.send([lead_event(1)])
    pipeline.drain()
    [letter] = pipeline.store.administration.dead_letters()

    pipeline.broker.get_actor(letter.actor_name).send(*letter.message["args"])
    pipeline.drain()

    assert [log.record_id for log in pipeline.sink.published] == ["00Q000000000001AAA"]
    assert [change.record_id for change in pipeline.writer.written] == ["00Q000000000001AAA"]
    assert pipeline.store.decisions.count_assignments() == 1
    assert pipeline.store.decisions.team_state("Inbound")["turn"] == 1


def test_a_retry_enqueue_refused_while_the_broker_restarts_is_tried_again_not_dead_lettered(
    pipeline: Pipeline,
) -> None:
    """RabbitMQ restarting: the first two retry enqueues are refused, the third gets through."""
    broker = pipeline.broker
    guard = next(m for m in broker.middleware if isinstance(m, GuardedRetries))
    original_enqueue, original_wait = broker.enqueue, guard.wait_s
    refused = {"count": 0}

    def enqueue(message, *, delay=None):  # type: ignore[no-untyped-def]
        if delay is not None and refused["count"] < 2:
            refused["count"] += 1
            raise ConnectionClosed(OSError("connection refused"))
        return original_enqueue(message, delay=delay)

    broker.enqueue = enqueue  # type: ignore[method-assign]
    guard.wait_s = 5.0
    try:
        pipeline.apply(team_config(members=2))
        pipeline.sink.failures = 1
        pipeline.send([lead_event(1)])
        pipeline.drain()
    finally:
        broker.enqueue = original_enqueue  # type: ignore[method-assign]
        guard.wait_s = original_wait

    assert refused["count"] == 2
    assert pipeline.store.administration.dead_letters() == []
    assert [log.record_id for log in pipeline.sink.published] == ["00Q000000000001AAA"]
    assert pipeline.store.decisions.count_assignments() == 1
