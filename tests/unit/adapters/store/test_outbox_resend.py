"""Owner writes queued again (`baton reconcile --requeue`), on SQLite and PostgreSQL: a new pending row each, unless
the record's newest row is still pending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from adapters.store import Store
from adapters.store.tables import outbox
from kernel.ports.decisions import OwnerWrite
from tests.support.stores import mark_writes

AT = datetime(2026, 11, 20, 9, tzinfo=UTC)
REP_A, REP_B = "005000000000001AAA", "005000000000002AAA"
LEAD_1, LEAD_2, LEAD_3 = "00Q000000000001AAA", "00Q000000000002AAA", "00Q000000000003AAA"


def queue(store: Store, *writes: OwnerWrite) -> None:
    with store.decisions.transaction() as tx:
        tx.queue_owner_writes(list(writes))


def rows(store: Store) -> list[tuple[str, str, str, str, int, str | None]]:
    with store.engine.connect() as connection:
        found = connection.execute(sa.select(outbox).order_by(outbox.c.id)).all()
    return [(row.routing_id, row.record_id, row.owner_id, row.status, row.attempts, row.last_error) for row in found]


def test_a_new_pending_row_for_each_record_whose_newest_write_is_not_pending(store: Store) -> None:
    queue(store, OwnerWrite("r1", "Lead", LEAD_1, REP_A, "realtime", AT),
          OwnerWrite("r2", "Lead", LEAD_2, REP_A, "realtime", AT),
          OwnerWrite("r3-old", "Lead", LEAD_3, REP_B, "realtime", AT),
          OwnerWrite("r3", "Lead", LEAD_3, REP_A, "realtime", AT))
    mark_writes(store, ["r1", "r3"], "sent", AT)
    mark_writes(store, ["r3-old"], "failed", AT)  # an older row of LEAD_3; its newest (r3) was sent

    later = AT + timedelta(hours=1)
    queued = store.outbox.resend([OwnerWrite("again-1", "Lead", LEAD_1, REP_A, "realtime", later),
                                  OwnerWrite("again-2", "Lead", LEAD_2, REP_A, "realtime", later),
                                  OwnerWrite("again-3", "Lead", LEAD_3, REP_A, "realtime", later)], "queued again")

    assert [write.routing_id for write in queued] == ["again-1", "again-3"]  # LEAD_2's write r2 is still pending
    assert rows(store)[-2:] == [("again-1", LEAD_1, REP_A, "pending", 0, "queued again"),
                                ("again-3", LEAD_3, REP_A, "pending", 0, "queued again")]
    assert [write.routing_id for write in store.outbox.due(later)] == ["r2", "again-1", "again-3"]


def test_queued_again_twice_gives_one_row_while_it_is_pending(store: Store) -> None:
    queue(store, OwnerWrite("r1", "Lead", LEAD_1, REP_A, "realtime", AT))
    mark_writes(store, ["r1"], "sent", AT)

    first = store.outbox.resend([OwnerWrite("again-1", "Lead", LEAD_1, REP_A, "realtime", AT)], "note")
    second = store.outbox.resend([OwnerWrite("again-2", "Lead", LEAD_1, REP_A, "realtime", AT)], "note")

    assert ([write.routing_id for write in first], second) == (["again-1"], [])
    assert [row[0] for row in rows(store)] == ["r1", "again-1"]


def test_nothing_to_queue_again_is_no_write(store: Store) -> None:
    assert store.outbox.resend([], "note") == []
    assert rows(store) == []
