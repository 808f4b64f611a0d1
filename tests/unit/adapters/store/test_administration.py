"""Dead letters added once per message id: the worker's copy and RabbitMQ's, in either order, are one letter."""

from __future__ import annotations

import threading
from datetime import timedelta

from adapters.store import Store
from kernel.clock import utc_now
from kernel.ports.operations import NewDeadLetter


def letter(message_id: str, reason: str = "TransientError: boom (after 5 retries)") -> NewDeadLetter:
    return NewDeadLetter(message_id=message_id, queue_name="baton.assign", actor_name="assign", stage="assign",
                         routing_ids=["r1"], message={"message_id": message_id, "args": []}, reason=reason,
                         failed_at=utc_now())


def test_a_message_is_added_once_however_often_and_whoever_adds_it(store: Store) -> None:
    administration = store.administration
    first, added = administration.add_dead_letter_once(letter("m-1"))
    again, added_again = administration.add_dead_letter_once(letter("m-1", reason="moved from RabbitMQ"))
    other, other_added = administration.add_dead_letter_once(letter("m-2"))

    assert (added, added_again, other_added) == (True, False, True)
    assert again == first != other
    assert [(row.message_id, row.reason) for row in administration.dead_letters()] == [
        ("m-1", "TransientError: boom (after 5 retries)"), ("m-2", "TransientError: boom (after 5 retries)")]


def test_a_replayed_letter_is_not_added_again(store: Store) -> None:
    administration = store.administration
    letter_id, _ = administration.add_dead_letter_once(letter("m-1"))
    administration.mark_replayed(letter_id, utc_now() + timedelta(minutes=1))

    assert administration.add_dead_letter_once(letter("m-1")) == (letter_id, False)
    assert administration.dead_letters() == [] and len(administration.dead_letters(include_replayed=True)) == 1


def test_concurrent_adds_of_one_message_leave_one_letter(store: Store) -> None:
    results: list[tuple[int, bool]] = []
    start = threading.Barrier(6)

    def add() -> None:
        start.wait()
        results.append(store.administration.add_dead_letter_once(letter("m-race")))

    threads = [threading.Thread(target=add) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(added for _, added in results) == [False] * 5 + [True]
    assert len({letter_id for letter_id, _ in results}) == 1
    assert len(store.administration.dead_letters()) == 1


def test_outbox_letters_of_one_row_may_repeat(store: Store) -> None:
    """``add_dead_letter`` (the flusher's, keyed ``outbox-<routing id>``) still adds every failure."""
    store.administration.add_dead_letter(letter("outbox-r1"))
    store.administration.add_dead_letter(letter("outbox-r1"))

    assert len(store.administration.dead_letters()) == 2
