"""A dead letter's store copy that fails while the database is away is written again in the background,
once, for as long as the worker lives; what is left when it stops stays in RabbitMQ's dead-letter queue."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dramatiq
import pytest
from dramatiq.broker import MessageProxy
from structlog.testing import capture_logs

from adapters.store import Store, make_engine, upgrade_schema
from adapters.store.administration import SqlAdministration
from baton.dead_letters import StoreCopyRetries, letter_of, routing_ids_of
from baton.middleware import DeadLetterRecorder
from kernel.clock import utc_now
from kernel.errors import DependencyUnavailable
from kernel.ports.operations import NewDeadLetter
from messages import RoutingContext, StageBatch
from tests.support.events import lead_event

WAIT_S = 30.0


class FlakyDeadLetters:
    """The store's dead letters behind a database that is away for the next ``failures`` calls."""

    def __init__(self, administration: SqlAdministration, failures: int):
        self.administration = administration
        self.failures = failures
        self.calls = 0

    def add_dead_letter_once(self, letter: NewDeadLetter) -> tuple[int, bool]:
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise DependencyUnavailable("database unavailable: connection refused")
        return self.administration.add_dead_letter_once(letter)

    def __getattr__(self, name: str) -> object:
        return getattr(self.administration, name)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    upgrade_schema(engine, None)
    yield Store(engine)
    engine.dispose()


def dying_message(number: int = 1) -> MessageProxy:
    batch = StageBatch(batch_id=f"b{number}", contexts=[RoutingContext(event=lead_event(number))], enqueued_at=utc_now())
    message = MessageProxy(dramatiq.Message(queue_name="baton.assign", actor_name="assign",
                                            args=(batch.model_dump(mode="json"),), kwargs={},
                                            options={"retries": 5}))
    message.fail()
    return message


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.01)


def test_a_copy_that_fails_is_written_once_the_database_is_back(store: Store) -> None:
    flaky = FlakyDeadLetters(store.administration, failures=3)
    recorder = DeadLetterRecorder(lambda: flaky, utc_now, StoreCopyRetries(lambda: flaky, 0.01, 0.05))
    message = dying_message()

    with capture_logs() as logs:
        recorder.after_nack(None, message)  # type: ignore[arg-type]
        wait_for(lambda: recorder.retries.pending == 0)

    [letter] = store.administration.dead_letters()
    assert (letter.message_id, letter.stage, letter.routing_ids) == (message.message_id, "assign",
                                                                     [lead_event(1).routing_id])
    assert flaky.calls == 4
    events = [entry["event"] for entry in logs]
    assert events[0] == "dead_letter_not_stored" and events.count("dead_letter_copy_waiting") == 2
    assert [entry["stored_late"] for entry in logs if entry["event"] == "dead_lettered"] == [True]


def test_a_copy_someone_else_stored_meanwhile_is_not_stored_twice(store: Store) -> None:
    flaky = FlakyDeadLetters(store.administration, failures=1)
    retries = StoreCopyRetries(lambda: flaky, 0.01, 0.05)
    message = dying_message()
    letter = letter_of(message.asdict(), "moved from RabbitMQ", utc_now())
    store.administration.add_dead_letter_once(letter)  # ``baton dlq list`` moved RabbitMQ's copy first

    retries.add(letter)
    wait_for(lambda: retries.pending == 0)

    assert [row.reason for row in store.administration.dead_letters()] == ["moved from RabbitMQ"]


def test_copies_left_when_the_worker_stops_are_named_and_not_tried_again(store: Store) -> None:
    flaky = FlakyDeadLetters(store.administration, failures=1_000)
    retries = StoreCopyRetries(lambda: flaky, 0.01, 0.05)
    retries.add(letter_of(dying_message(1).asdict(), "x", utc_now()))

    with capture_logs() as logs:
        assert retries.stop() == 1
    calls = flaky.calls
    retries.add(letter_of(dying_message(2).asdict(), "y", utc_now()))
    time.sleep(0.2)

    assert flaky.calls == calls and store.administration.dead_letters() == []
    assert [entry["pending"] for entry in logs if entry["event"] == "dead_letter_copies_left_in_rabbitmq"] == [1]


def test_a_worker_shutting_down_tries_once_more_and_the_copies_left_are_still_tried(store: Store) -> None:
    flaky = FlakyDeadLetters(store.administration, failures=2)
    retries = StoreCopyRetries(lambda: flaky, 1.0, 1.0)  # the shutdown comes well before the thread's first try
    recorder = DeadLetterRecorder(lambda: flaky, utc_now, retries)
    recorder.after_nack(None, dying_message(1))  # type: ignore[arg-type]

    with capture_logs() as logs:
        recorder.before_worker_shutdown(None, None)  # type: ignore[arg-type]
    wait_for(lambda: retries.pending == 0)

    assert [entry["pending"] for entry in logs if entry["event"] == "dead_letter_copies_left_in_rabbitmq"] == [1]
    assert len(store.administration.dead_letters()) == 1
    retries.stop()


def test_beyond_the_limit_a_copy_is_left_to_rabbitmq(store: Store) -> None:
    flaky = FlakyDeadLetters(store.administration, failures=1_000)
    retries = StoreCopyRetries(lambda: flaky, 10, 10, limit=1)
    with capture_logs() as logs:
        retries.add(letter_of(dying_message(1).asdict(), "x", utc_now()))
        retries.add(letter_of(dying_message(2).asdict(), "y", utc_now()))

    assert retries.pending == 1
    assert [entry["event"] for entry in logs] == ["dead_letter_copy_dropped"]
    retries.stop()


def test_a_stage_message_names_its_records_and_an_assignment_batch_its_logs() -> None:
    message = dying_message(3).asdict()
    assert routing_ids_of(message["args"]) == [lead_event(3).routing_id]
    assert routing_ids_of([{"logs": [{"routing_id": "r-9"}]}, "other"]) == ["r-9"]
