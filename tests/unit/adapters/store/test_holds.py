"""Held records on SQLite and PostgreSQL: each transition of a hold (``routing.lifecycles.hold``) is a
compare-and-set on the status and version it was read with. Of two scheduler rounds that read the same due
hold only one leases it, a re-check holds again only a hold it leased, and a decided record leaves its hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.store import Store
from kernel.ports.holds import HeldRecord

AT = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
LEASE = AT + timedelta(minutes=2)
LATER = AT + timedelta(hours=1)
CONTEXT = {"event": {"record_id": "L1"}}


def hold(store: Store, reason: str = "nobody free", recheck_at: datetime = AT,
         routing_ids: tuple[str, ...] = ("r1",)) -> None:
    with store.decisions.transaction() as tx:
        tx.save_holds([HeldRecord(routing_id, "Lead", "L1", "Inbound", reason, CONTEXT, AT, recheck_at)
                       for routing_id in routing_ids])


def test_of_two_rounds_that_read_the_same_due_hold_one_leases_it(store: Store) -> None:
    hold(store)
    [due] = store.holds.held(due_at=AT)
    assert (due.status, due.version) == ("held", 1)
    assert store.holds.lease([due], LEASE) == ["r1"]
    assert store.holds.lease([due], LEASE) == []  # the other round read the same version: a lost race
    [leased] = store.holds.held()
    assert (leased.status, leased.version, leased.recheck_at) == ("rechecking", 2, LEASE)


def test_a_lease_that_ran_out_is_taken_again_by_its_version(store: Store) -> None:
    hold(store)
    store.holds.lease(store.holds.held(due_at=AT), LEASE)
    [expired] = store.holds.held(due_at=LEASE)
    assert store.holds.lease([expired], LATER) == ["r1"]
    assert store.holds.lease([expired], LATER) == []
    assert [(held.status, held.version) for held in store.holds.held()] == [("rechecking", 3)]


def test_a_re_check_holds_again_only_a_hold_it_leased(store: Store) -> None:
    hold(store)
    hold(store, "a second first hold", LATER)  # not leased: nothing changes
    assert [(held.reason, held.status, held.version, held.checks) for held in store.holds.held()] == [
        ("nobody free", "held", 1, 0)]
    store.holds.lease(store.holds.held(due_at=AT), LEASE)
    hold(store, "still nobody", LATER)  # the re-check: rechecking -> held
    assert [(held.reason, held.status, held.version, held.checks) for held in store.holds.held()] == [
        ("still nobody", "held", 3, 1)]
    hold(store, "a duplicate re-check", LATER)  # came after the first re-check held it: a lost race
    assert [held.reason for held in store.holds.held()] == ["still nobody"]


def test_a_re_check_of_several_holds_holds_again_those_it_leased(store: Store) -> None:
    hold(store, routing_ids=("r1", "r2"))
    [first, _] = store.holds.held()
    store.holds.lease([first], LEASE)
    hold(store, "still nobody", LATER, ("r1", "r2"))
    assert [(held.routing_id, held.reason, held.status, held.version) for held in store.holds.held()] == [
        ("r2", "nobody free", "held", 1), ("r1", "still nobody", "held", 3)]


def test_a_decided_record_leaves_its_hold_whether_or_not_it_was_leased(store: Store) -> None:
    hold(store)
    with store.decisions.transaction() as tx:
        tx.release_holds(["r1"])
    assert store.holds.held() == []
    hold(store)
    store.holds.lease(store.holds.held(), LEASE)
    with store.decisions.transaction() as tx:
        tx.release_holds(["r1"])
    assert store.holds.held() == []
