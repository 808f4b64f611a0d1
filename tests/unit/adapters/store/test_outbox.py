"""The outbox on SQLite and PostgreSQL: each record's writes numbered as stored, a write that is not its record's
newest decision never pending, older writes superseded by newer ones, and every change a compare-and-set."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from adapters.store import Store
from adapters.store.tables import outbox
from kernel.errors import TransientError
from kernel.ports.decisions import DecisionRows, OwnerWrite, RecordStateUpdate
from kernel.ports.outbox import Backlog, FactsWrite, PendingWrite, Retry

AT = datetime(2026, 11, 20, 9, tzinfo=UTC)
LATER = AT + timedelta(minutes=5)


Decision = tuple[str, str, str, datetime]  # routing id, record id, owner, event time


def round_rows(decisions: Sequence[Decision], channel: str = "realtime") -> DecisionRows:
    """An assign round's rows: each decision with its record state and its owner write."""
    return DecisionRows(
        team_states=[], assignments=[],
        record_states=[RecordStateUpdate("Lead", record, event_at, routing_id, owner, AT)
                       for routing_id, record, owner, event_at in decisions],
        owner_writes=[OwnerWrite(routing_id, "Lead", record, owner, channel, AT)
                      for routing_id, record, owner, _ in decisions],
    )


def decide(store: Store, *decisions: Decision, channel: str = "realtime") -> None:
    """One assign round, stored as the assign stage stores it."""
    with store.decisions.transaction() as tx:
        tx.save_decisions(round_rows(decisions, channel))


def rows(store: Store) -> dict[str, tuple[str, int, str | None]]:
    """routing id -> (status, sequence, superseded_by)."""
    with store.engine.connect() as connection:
        found = connection.execute(sa.select(outbox.c.routing_id, outbox.c.status, outbox.c.sequence,
                                             outbox.c.superseded_by)).all()
    return {row.routing_id: (row.status, row.sequence, row.superseded_by) for row in found}


def due(store: Store) -> dict[str, PendingWrite]:
    return {row.routing_id: row for row in store.outbox.due(LATER + timedelta(days=1))}


def test_a_records_writes_are_numbered_in_the_order_they_are_stored(store: Store) -> None:
    decide(store, ("a", "L1", "005A", AT), ("x", "L2", "005A", AT))
    decide(store, ("b", "L1", "005B", LATER))
    with store.decisions.transaction() as tx:  # a booking's host, stored statement by statement on both databases
        tx.save_record_states([RecordStateUpdate("Lead", "L1", LATER + timedelta(minutes=1), "c", "005C", LATER)])
        tx.queue_owner_writes([OwnerWrite("c", "Lead", "L1", "005C", "realtime", LATER)])

    assert rows(store) == {"a": ("pending", 1, None), "x": ("pending", 1, None), "b": ("pending", 2, None),
                           "c": ("pending", 3, None)}


def test_a_decision_that_is_not_its_records_newest_is_stored_superseded(store: Store) -> None:
    """Two events of one record in a round: the older's write gives way at once. A round deciding an event older
    than one a concurrent round stored first: its write gives way to that one's."""
    decide(store, ("old", "L1", "005A", AT), ("new", "L1", "005B", LATER))
    decide(store, ("late", "L1", "005C", AT + timedelta(minutes=1)))

    assert rows(store) == {"old": ("superseded", 1, "new"), "new": ("pending", 2, None),
                           "late": ("superseded", 3, "new")}
    assert list(due(store)) == ["new"]


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)  # SQLite lets one transaction write at a time
def test_two_rounds_numbering_one_record_at_once_collide_and_the_later_one_is_retried(store: Store) -> None:
    """PostgreSQL: a round stores the record's first write and waits to commit; a concurrent round for the same
    record blocks on it, then finds the number taken and fails as a transient error (its stage retries it), so
    two writes of a record never share a number. (SQLite has one writer at a time.)"""
    inside, release = threading.Event(), threading.Event()
    blocked_pid: list[int] = []
    outcome: list[BaseException | None] = []

    def first_round() -> None:
        with store.decisions.transaction() as tx:
            tx.save_decisions(round_rows([("a", "L1", "005A", AT)]))
            inside.set()
            release.wait(60)

    def second_round() -> None:
        try:
            with store.decisions.transaction() as tx:
                blocked_pid.append(tx.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
                tx.save_decisions(round_rows([("b", "L1", "005B", LATER)]))
            outcome.append(None)
        except TransientError as exc:
            outcome.append(exc)

    first = threading.Thread(target=first_round)
    first.start()
    assert inside.wait(60)
    second = threading.Thread(target=second_round)
    second.start()
    deadline = time.monotonic() + 60
    with store.engine.connect() as watcher:
        while not blocked_pid or watcher.execute(sa.text(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                {"pid": blocked_pid[0]}).scalar() != "Lock":
            assert time.monotonic() < deadline, "the second round never waited for the first"
            time.sleep(0.05)
    release.set()
    first.join(60)
    second.join(60)

    [error] = outcome
    assert isinstance(error, TransientError) and "concurrent write" in str(error)
    decide(store, ("b", "L1", "005B", LATER))  # the retry
    assert rows(store) == {"a": ("pending", 1, None), "b": ("pending", 2, None)}


def test_a_pending_write_gives_way_to_a_newer_pending_or_written_one_of_its_record(store: Store) -> None:
    decide(store, ("a", "L1", "005A", AT), ("x", "L2", "005A", AT))
    decide(store, ("b", "L1", "005B", LATER))
    waiting = due(store)

    to_write = store.outbox.supersede(list(waiting.values()), LATER)

    assert [row.routing_id for row in to_write] == ["x", "b"]
    assert rows(store)["a"] == ("superseded", 1, "b")
    assert store.outbox.statuses(["a", "b", "x"]) == {"a": "superseded", "b": "pending", "x": "pending"}


def test_a_newer_write_that_salesforce_refused_holds_no_older_one_back(store: Store) -> None:
    decide(store, ("a", "L1", "005A", AT))
    decide(store, ("b", "L1", "005B", LATER))
    waiting = due(store)
    assert store.outbox.mark([waiting["b"]], "rejected", LATER, "INVALID_CROSS_REFERENCE_KEY: inactive user") == ["b"]

    assert [row.routing_id for row in store.outbox.supersede([waiting["a"]], LATER)] == ["a"]


def test_a_row_changed_since_it_was_read_is_left_as_the_change_made_it(store: Store) -> None:
    decide(store, ("a", "L1", "005A", AT), ("b", "L2", "005B", AT))
    read = due(store)
    [claimed] = store.outbox.claim([read["a"]], "in flight")
    assert claimed.version == read["a"].version + 1 and claimed.last_error == "in flight"

    assert store.outbox.claim([read["a"]], "in flight again") == []  # read before the claim: a lost race
    assert store.outbox.mark([read["a"]], "sent", LATER) == []
    assert store.outbox.supersede([read["a"]], LATER) == [read["a"]]  # not superseded (nothing newer) either
    store.outbox.defer([Retry(read["a"], "UNABLE_TO_LOCK_ROW", LATER)], LATER)
    assert due(store)["a"] == claimed  # none of those stale changes touched it
    assert store.outbox.mark([claimed], "sent", LATER) == ["a"]
    assert store.outbox.statuses(["a"]) == {"a": "sent"}


def test_a_deferred_write_counts_its_attempt_and_keeps_its_first_failures_time(store: Store) -> None:
    decide(store, ("a", "L1", "005A", AT))
    first = due(store)["a"]
    store.outbox.defer([Retry(first, "503", AT + timedelta(seconds=1))], AT)
    assert store.outbox.due(AT) == []
    assert store.outbox.next_attempt("realtime") == AT + timedelta(seconds=1)

    second = due(store)["a"]
    store.outbox.defer([Retry(second, "503 again", LATER)], AT + timedelta(seconds=1))

    third = due(store)["a"]
    assert (third.attempts, third.last_error, third.retrying_since) == (2, "503 again", AT)


def test_only_a_failed_write_is_requeued_and_it_starts_a_new_retry_window(store: Store) -> None:
    decide(store, ("a", "L1", "005A", AT), ("b", "L2", "005B", AT))
    read = due(store)
    store.outbox.defer([Retry(read["a"], "503", AT)], AT)
    store.outbox.mark([due(store)["a"]], "failed", LATER, "503 for a day")
    store.outbox.mark([read["b"]], "sent", LATER)

    assert store.outbox.requeue(["a", "b"]) == 1
    again = due(store)["a"]
    assert (again.attempts, again.retrying_since) == (2, None)


def test_the_backlog_counts_pending_writes_per_channel_with_the_oldest(store: Store) -> None:
    decide(store, ("a", "L1", "005A", AT), ("b", "L2", "005B", AT))
    decide(store, ("j", "L3", "005B", AT), channel="bulk")
    store.outbox.mark([due(store)["b"]], "sent", LATER)

    assert store.outbox.backlog() == {"realtime": Backlog(1, AT), "bulk": Backlog(1, AT)}


def test_a_writes_routing_facts_are_stored_on_its_row_and_read_back_with_it(store: Store) -> None:
    """On both databases (PostgreSQL stores a round in one statement): the facts ride on the outbox row, so the
    row's ordering rules cover them; a row without facts reads back None."""
    facts = {"Baton_Team__c": "Inbound", "Baton_SLA_Breached__c": False, "Baton_Territory__c": None}
    with store.decisions.transaction() as tx:
        tx.save_decisions(DecisionRows(
            team_states=[], assignments=[],
            record_states=[RecordStateUpdate("Lead", "L1", AT, "a", "005A", AT),
                           RecordStateUpdate("Lead", "L2", AT, "b", "005A", AT)],
            owner_writes=[OwnerWrite("a", "Lead", "L1", "005A", "realtime", AT, facts),
                          OwnerWrite("b", "Lead", "L2", "005A", "realtime", AT)]))

    found = due(store)
    assert found["a"].fields == facts and found["a"].change.fields == facts
    assert found["b"].fields is None


def test_a_facts_only_write_follows_its_decision_and_gives_way_to_a_newer_one(store: Store) -> None:
    """An SLA breach's write: numbered after the decision's, carrying the decision's other facts; queued once
    however often it is asked; for a decision no longer its record's newest it is never pending."""
    with store.decisions.transaction() as tx:
        tx.save_decisions(DecisionRows(
            team_states=[], assignments=[], record_states=[RecordStateUpdate("Lead", "L1", AT, "a", "005A", AT)],
            owner_writes=[OwnerWrite("a", "Lead", "L1", "005A", "realtime", AT, {"Team__c": "Inbound"})]))
    flag = FactsWrite("a", OwnerWrite("a-flag", "Lead", "L1", "005A", "realtime", LATER, {"Breached__c": True}))

    assert store.outbox.queue_facts([flag]) == ["a-flag"]
    assert store.outbox.queue_facts([flag]) == []
    assert rows(store)["a-flag"] == ("pending", 2, None)
    assert due(store)["a-flag"].fields == {"Team__c": "Inbound", "Breached__c": True}

    decide(store, ("b", "L1", "005B", LATER))
    late = FactsWrite("a", OwnerWrite("a-flag-2", "Lead", "L1", "005A", "realtime", LATER, {"Breached__c": True}))
    assert store.outbox.queue_facts([late]) == []
    assert rows(store)["a-flag-2"] == ("superseded", 4, "b")
