"""`baton reconcile`'s run over a real store (SQLite) and the fake org: owners read per object type, differing writes
queued again through the outbox, and a record whose write turned pending meanwhile left to it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.salesforce.owner_reads import SalesforceOwners
from adapters.store import Store, make_engine, upgrade_schema
from baton.operations.reconcile import Action
from baton.operations.reconciliation import (
    REQUEUE_NOTE,
    ReconcileRequest,
    compare,
    reconcile,
    requeue,
    resend_id,
)
from entrypoints.demo.fake_salesforce import FakeOrg, fake_salesforce
from kernel.ports.decisions import Assignment, OwnerWrite
from tests.support.stores import mark_writes

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
REP_A, REP_B = "005000000000001AAA", "005000000000002AAA"
LEAD, CONTACT = "00Q000000000001AAA", "003000000000001AAA"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    engine = make_engine(f"sqlite:///{tmp_path / 'baton.sqlite3'}")
    upgrade_schema(engine)
    yield Store(engine)
    engine.dispose()


@pytest.fixture
def org_and_owners() -> Iterator[tuple[FakeOrg, SalesforceOwners]]:
    with fake_salesforce() as (org, client):
        org.records["Lead"] = [{"Id": LEAD, "OwnerId": REP_A}]
        org.records["Contact"] = [{"Id": CONTACT, "OwnerId": REP_A}]
        yield org, SalesforceOwners(client)


def decided(store: Store, routing_id: str, object_type: str, record_id: str, owner_id: str) -> None:
    at = NOW - timedelta(hours=1)
    with store.decisions.transaction() as tx:
        tx.save_assignments([Assignment(routing_id, record_id, object_type, "assigned", owner_id, "Inbound",
                                        "round_robin", 1, {}, at, at)])
        tx.queue_owner_writes([OwnerWrite(routing_id, object_type, record_id, owner_id, "realtime", at)])
    mark_writes(store, [routing_id], "sent", at)


def test_each_object_type_is_read_and_compared_and_the_differing_write_queued_again(
        store: Store, org_and_owners: tuple[FakeOrg, SalesforceOwners]) -> None:
    org, owners = org_and_owners
    decided(store, "r-lead", "Lead", LEAD, REP_B)
    decided(store, "r-contact", "Contact", CONTACT, REP_A)

    report = reconcile(store.operations, owners, store.outbox, ReconcileRequest(requeue=True), NOW)

    assert (report.owners.compared, report.owners.matched, report.requeued) == (2, 1, 1)
    [found] = report.owners.differences
    assert (found.decision.routing_id, found.action) == ("r-lead", Action.REQUEUED)
    [due] = store.outbox.due(NOW)
    assert (due.routing_id, due.record_id, due.owner_id, due.last_error) == (
        resend_id("r-lead", NOW), LEAD, REP_B, REQUEUE_NOTE)
    assert report.bookings == [] and not report.clean
    assert {call["soql"].split(" WHERE")[0] for call in org.calls if call.get("soql")} == {
        "SELECT Id, OwnerId FROM Lead", "SELECT Id, OwnerId FROM Contact"}


def test_a_record_whose_write_turned_pending_after_the_comparison_is_left_to_it(
        store: Store, org_and_owners: tuple[FakeOrg, SalesforceOwners]) -> None:
    _, owners = org_and_owners
    decided(store, "r-lead", "Lead", LEAD, REP_B)
    comparison = compare(store.operations, owners, ReconcileRequest())
    with store.decisions.transaction() as tx:  # a newer decision's write, queued meanwhile
        tx.queue_owner_writes([OwnerWrite("r-newer", "Lead", LEAD, REP_B, "realtime", NOW)])

    assert requeue(comparison, store.outbox, NOW) == 0
    assert [found.action for found in comparison.differences] == [Action.PENDING]
    assert [write.routing_id for write in store.outbox.due(NOW)] == ["r-newer"]


def test_nothing_differing_and_no_booking_open_is_clean(store: Store,
                                                        org_and_owners: tuple[FakeOrg, SalesforceOwners]) -> None:
    _, owners = org_and_owners
    decided(store, "r-lead", "Lead", LEAD, REP_A)

    report = reconcile(store.operations, owners, store.outbox, ReconcileRequest(requeue=True), NOW)

    assert report.clean and (report.owners.matched, report.requeued) == (1, 0)
