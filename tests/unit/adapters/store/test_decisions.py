"""The decision repository's typed rows round-trip through SQLite and PostgreSQL (PostgreSQL writes a round's
decisions as one statement over jsonb_populate_recordset), and so do held records and SLA timers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from adapters.store import Store
from adapters.store.tables import outbox
from kernel.errors import TransientError
from kernel.ports.decisions import (
    Assignment,
    Decision,
    DecisionRows,
    OwnerWrite,
    RecordState,
    RecordStateUpdate,
    StickyOwner,
    TeamStateUpdate,
)
from kernel.ports.holds import HeldRecord, LatestActivity, SlaTimer

AT = datetime(2026, 11, 20, 9, tzinfo=UTC)
LATER = AT + timedelta(minutes=5)




def assignment(routing_id: str, record_id: str, outcome: str = "assigned", owner_id: str | None = "005A") -> Assignment:
    log = {"routing_id": routing_id, "record_id": record_id, "outcome": outcome, "owner_id": owner_id}
    return Assignment(routing_id, record_id, "Lead", outcome, owner_id, "Inbound", "round_robin", 3, log, AT, AT)


def owner_writes(store: Store) -> list[tuple[str, str, str, str, int, str]]:
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(outbox).order_by(outbox.c.routing_id)).all()
    return [(row.routing_id, row.record_id, row.owner_id, row.status, row.attempts, row.channel) for row in rows]


def test_a_rounds_decisions_are_stored_and_read_back(store: Store) -> None:
    with store.decisions.transaction() as tx:
        assert tx.lock_team_states(["Inbound"], AT) == {"Inbound": {}}
        tx.save_decisions(DecisionRows(
            team_states=[TeamStateUpdate("Inbound", {"turn": 2}, 2, AT)],
            assignments=[assignment("r1", "L1"), assignment("r2", "L2", owner_id="005B")],
            record_states=[RecordStateUpdate("Lead", "L1", AT - timedelta(minutes=1), "r0", "005Z", AT),
                           RecordStateUpdate("Lead", "L1", AT, "r1", "005A", AT),
                           RecordStateUpdate("Lead", "L2", AT, "r2", "005B", AT)],
            owner_writes=[OwnerWrite("r1", "Lead", "L1", "005A", "realtime", AT),
                          OwnerWrite("r2", "Lead", "L2", "005B", "bulk", AT)],
        ))
    decisions = store.decisions
    assert decisions.team_state("Inbound") == {"turn": 2} and decisions.team_decisions("Inbound") == 2
    assert decisions.count_assignments() == 2 and decisions.owner_counts() == {"005A": 1, "005B": 1}
    assert decisions.stored_decisions(["r1", "r3"]) == {"r1": Decision("assigned", "005A", "Inbound")}
    assert decisions.assignment_logs(["r2"])["r2"]["owner_id"] == "005B"
    assert owner_writes(store) == [("r1", "L1", "005A", "pending", 0, "realtime"),
                                   ("r2", "L2", "005B", "pending", 0, "bulk")]
    with decisions.reader() as reader:
        assert reader.record_states([("Lead", "L1"), ("Lead", "L9")]) == {("Lead", "L1"): RecordState(AT, "r1", "005A")}


def test_sticky_owners_and_holds_are_stored_in_the_unit_of_work(store: Store) -> None:
    context = {"event": {"record_id": "L3"}}
    with store.decisions.transaction() as tx:
        tx.save_sticky_owners([StickyOwner("Inbound", "account:001x", "005A", AT)])
        tx.save_assignments([assignment("r3", "L3", outcome="held", owner_id=None)])
        tx.save_holds([HeldRecord("r3", "Lead", "L3", "Inbound", "nobody free", context, AT, LATER)])
    assert store.holds.lease(store.holds.held(), LATER) == ["r3"]  # the scheduler sends it to a re-check
    with store.decisions.transaction() as tx:
        tx.save_sticky_owners([StickyOwner("Inbound", "account:001x", "005B", LATER)])
        tx.save_holds([HeldRecord("r3", "Lead", "L3", "Inbound", "still nobody", context, AT, LATER)])
        assert tx.hold_times(["r3"]) == {"r3": AT}
    with store.decisions.reader() as reader:
        assert reader.sticky_owners([("Inbound", "account:001x")]) == {
            ("Inbound", "account:001x"): StickyOwner("Inbound", "account:001x", "005B", LATER)}
    assert store.holds.held() == [
        HeldRecord("r3", "Lead", "L3", "Inbound", "still nobody", context, AT, LATER, 1, "held", 3)]
    assert store.holds.held(due_at=AT) == []
    store.holds.lease(store.holds.held(), LATER + timedelta(hours=1))
    assert store.holds.held(due_at=LATER) == []
    store.holds.recheck_all(AT)
    assert [held.recheck_at for held in store.holds.held(due_at=AT)] == [AT]
    with store.decisions.transaction() as tx:
        tx.replace_held_assignments([assignment("r3", "L3")])
        tx.release_holds(["r3"])
    assert store.holds.held() == [] and store.decisions.stored_decisions(["r3"])["r3"].outcome == "assigned"
    with pytest.raises(TransientError), store.decisions.transaction() as tx:
        tx.replace_held_assignments([assignment("r3", "L3")])  # decided already: no longer held


def test_sla_timers_open_once_and_close_with_the_records_latest_activity(store: Store) -> None:
    timer = SlaTimer("r1", "Lead", "L1", "Inbound", "005A", AT, LATER)
    timers = store.sla_timers
    timers.open([timer])
    timers.open([SlaTimer("r1", "Lead", "L1", "Inbound", "005B", AT, LATER)])  # a redelivery keeps the first
    assert timers.due(AT) == [] and timers.due(LATER) == [timer]
    with store.decisions.transaction() as tx:
        tx.save_record_states([RecordStateUpdate("Lead", "L1", LATER, "r9", "005A", LATER)])
    assert timers.latest_activity([timer]) == {"r1": LatestActivity("r9", LATER, False)}
    timers.close(["r1"], "actioned", LATER)
    assert timers.states() == {"r1": "actioned"} and timers.due(LATER) == []
