"""What `baton reconcile` reads from the store, on SQLite and PostgreSQL: each record's newest decision that named an
owner, with where its write stands in the outbox, and the bookings not in a final state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from adapters.store import Store
from adapters.store.tables import outbox
from kernel.ports.bookings import Hold, NewBooking
from kernel.ports.decisions import Assignment, OwnerWrite
from kernel.ports.operations import LatestOwnerDecision
from messages.booking import FINAL_STATUSES
from tests.support.stores import mark_writes

AT = datetime(2026, 11, 20, 9, tzinfo=UTC)
REP_A, REP_B, REP_C = "005000000000001AAA", "005000000000002AAA", "005000000000003AAA"


def decide(store: Store, routing_id: str, record_id: str, owner_id: str | None, minutes: int,
           outcome: str = "assigned", object_type: str = "Lead", write: str | None = "pending") -> None:
    """A decision made ``minutes`` after AT, and its owner write with status ``write`` (None: no write)."""
    at = AT + timedelta(minutes=minutes)
    with store.decisions.transaction() as tx:
        tx.save_assignments([Assignment(routing_id, record_id, object_type, outcome, owner_id, "Inbound",
                                        "round_robin", 1, {"routing_id": routing_id}, at, at)])
        if write is not None and owner_id is not None:
            tx.queue_owner_writes([OwnerWrite(routing_id, object_type, record_id, owner_id, "realtime", at)])
    if write not in (None, "pending"):
        mark_writes(store, [routing_id], write, at)


def test_each_records_newest_decision_that_named_an_owner_with_its_writes_status(store: Store) -> None:
    decide(store, "r1", "00Q000000000001AAA", REP_A, 0, write="sent")
    decide(store, "r2", "00Q000000000001AAA", REP_B, 5, write="failed")  # newer: this one counts
    decide(store, "r3", "00Q000000000001AAA", None, 10, outcome="held")  # named no owner
    decide(store, "r4", "00Q000000000002AAA", REP_C, 1, write=None)  # no outbox row (purged)
    decide(store, "r5", "003000000000001AAA", REP_A, 2, object_type="Contact")

    latest = store.operations.latest_owner_decisions()

    assert latest == [
        LatestOwnerDecision("Contact", "003000000000001AAA", REP_A, "r5", AT + timedelta(minutes=2), "pending",
                            "pending"),
        LatestOwnerDecision("Lead", "00Q000000000001AAA", REP_B, "r2", AT + timedelta(minutes=5), "failed", "failed"),
        LatestOwnerDecision("Lead", "00Q000000000002AAA", REP_C, "r4", AT + timedelta(minutes=1), None, None),
    ]
    assert [row.record_id for row in store.operations.latest_owner_decisions(objects=["Contact"])] == [
        "003000000000001AAA"]
    assert [row.routing_id for row in store.operations.latest_owner_decisions(
        since=AT + timedelta(minutes=2))] == ["r5", "r2"]


def test_a_write_queued_again_is_the_records_newest(store: Store) -> None:
    decide(store, "r1", "00Q000000000001AAA", REP_A, 0, write="sent")
    queued = store.outbox.resend([OwnerWrite("again-1", "Lead", "00Q000000000001AAA", REP_A, "realtime", AT)], "note")

    [latest] = store.operations.latest_owner_decisions()

    assert [write.routing_id for write in queued] == ["again-1"]
    assert (latest.routing_id, latest.write_status, latest.newest_write_status) == ("r1", "sent", "pending")


def new_booking(booking_id: str, status: str, created: datetime, object_type: str = "Lead") -> NewBooking:
    return NewBooking(
        id=booking_id, status=status, booking_type="intro", object_type=object_type, record_id="00Q000000000001AAA",
        scheduler_user_id=REP_A, host_id=REP_B, pool="AE", co_host_ids=[], starts_at=created + timedelta(days=1),
        ends_at=created + timedelta(days=1, minutes=30), guest_email="guest@example.com", invitees=[],
        platform="meet", request={"n": 1}, created_at=created)


def test_bookings_not_in_a_final_state_oldest_first(store: Store) -> None:
    for number, (status, object_type) in enumerate([("reserved", "Lead"), ("confirmed", "Lead"),
                                                    ("calendar_created", "Contact"), ("cancelled", "Lead"),
                                                    ("event_created", "Lead")]):
        created = AT + timedelta(hours=number)
        store.bookings.reserve(new_booking(f"b{number}", status, created, object_type),
                               [Hold(f"005H{number}", created + timedelta(days=1),
                                     created + timedelta(days=1, hours=1))])

    found = store.operations.unfinished_bookings(FINAL_STATUSES)

    assert [(row.id, row.status) for row in found] == [("b0", "reserved"), ("b2", "calendar_created"),
                                                      ("b4", "event_created")]
    assert found[0] == store.bookings.get("b0")
    assert [row.id for row in store.operations.unfinished_bookings(FINAL_STATUSES, objects=["Contact"])] == ["b2"]
    assert [row.id for row in store.operations.unfinished_bookings(FINAL_STATUSES,
                                                                    since=AT + timedelta(hours=3))] == ["b4"]


def test_outbox_rows_are_left_as_they_were(store: Store) -> None:
    decide(store, "r1", "00Q000000000001AAA", REP_A, 0, write="sent")
    with store.engine.connect() as connection:
        before = connection.execute(sa.select(outbox)).all()

    store.operations.latest_owner_decisions()

    with store.engine.connect() as connection:
        assert connection.execute(sa.select(outbox)).all() == before
