"""The inbox repository on each database: a message is stored pending, claimed by one draining run at a time,
claimed again by a new run (after a restart), and finished once (a compare-and-set)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.store import Store
from kernel.ports.inbox import InboxMessage
from routing.lifecycles import IllegalTransition
from routing.lifecycles.inbox import InboxStatus

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def message(number: int, body: str = '{"args": []}') -> InboxMessage:
    return InboxMessage(f"m-{number}", "baton.classify", "classify", body)


def ids(messages: list[InboxMessage]) -> list[str]:
    return [entry.message_id for entry in messages]


def test_a_stored_message_waits_for_the_drainer_and_comes_back_as_stored(store: Store) -> None:
    store.inbox.accept(message(1, '{"args": [{"batch_id": "b1"}]}'), T0, None)

    assert store.inbox.pending() == 1
    assert store.inbox.claim("run-a", 10) == [message(1, '{"args": [{"batch_id": "b1"}]}')]


def test_a_run_claims_oldest_first_and_not_what_it_holds_already(store: Store) -> None:
    for number in (3, 1, 2):
        store.inbox.accept(message(number), T0 + timedelta(seconds=number), None)
    store.inbox.accept(message(4), T0, "run-a")  # queued by run-a as it sent it

    assert ids(store.inbox.claim("run-a", 2)) == ["m-1", "m-2"]
    assert ids(store.inbox.claim("run-a", 10)) == ["m-3"]
    assert store.inbox.claim("run-a", 10) == []


def test_a_new_run_claims_what_an_ended_run_held_and_did_not_finish(store: Store) -> None:
    """After a restart or ``kill -9`` everything accepted and not finished runs again."""
    store.inbox.accept(message(1), T0, "killed-run")
    store.inbox.accept(message(2), T0 + timedelta(seconds=1), "killed-run")
    store.inbox.finish("m-2", InboxStatus.DONE, T0 + timedelta(seconds=2))

    assert ids(store.inbox.claim("next-run", 10)) == ["m-1"]


def test_a_message_is_finished_once(store: Store) -> None:
    store.inbox.accept(message(1), T0, "run-a")

    assert store.inbox.finish("m-1", InboxStatus.DONE, T0) is True
    assert store.inbox.finish("m-1", InboxStatus.DEAD_LETTERED, T0) is False
    assert store.inbox.finish("m-1", InboxStatus.DONE, T0) is False
    assert store.inbox.pending() == 0
    assert store.inbox.claim("run-b", 10) == []


def test_finishing_back_to_pending_is_not_a_transition(store: Store) -> None:
    store.inbox.accept(message(1), T0, "run-a")

    with pytest.raises(IllegalTransition):
        store.inbox.finish("m-1", InboxStatus.PENDING, T0)


def test_a_retry_keeps_its_row_and_its_place_and_stores_its_new_body(store: Store) -> None:
    store.inbox.accept(message(1, '{"options": {}}'), T0, "run-a")
    store.inbox.accept(message(2), T0 + timedelta(seconds=1), "run-a")
    store.inbox.accept(message(1, '{"options": {"retries": 1}}'), T0 + timedelta(seconds=2), "run-a")

    assert store.inbox.pending() == 2
    assert store.inbox.claim("run-b", 10) == [message(1, '{"options": {"retries": 1}}'), message(2)]


def test_a_finished_message_sent_again_stays_finished(store: Store) -> None:
    store.inbox.accept(message(1), T0, "run-a")
    store.inbox.finish("m-1", InboxStatus.DONE, T0)
    store.inbox.accept(message(1), T0, "run-a")

    assert store.inbox.pending() == 0


def test_a_released_message_is_claimed_again_by_the_same_run(store: Store) -> None:
    store.inbox.accept(message(1), T0, "run-a")
    assert store.inbox.claim("run-a", 10) == []

    store.inbox.release("m-1")

    assert ids(store.inbox.claim("run-a", 10)) == ["m-1"]
