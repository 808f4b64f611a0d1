"""The fault runs' reconciliation (tests/support/reconcile.py) sees each way a run can lose or double work: a
clean run has no problem, and each single flaw planted in it is found and named, with the record or booking it
concerns. (Before it, the runs counted PATCHes per record, passed orphan calendar events, two reservations, failed
bookings and a duplicated booking row that cancelled out a lost one.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from adapters.store import make_engine, upgrade_schema
from adapters.store.tables import (
    assignments,
    bookings,
    dead_letters,
    holds,
    outbox,
    record_states,
    reservations,
    team_states,
)
from entrypoints.demo.fake_calendar import FakeGoogleCalendar
from entrypoints.demo.fake_salesforce import FakeOrg
from tests.support import reconcile as r
from tests.support.events import lead_event

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
REPS = ("005000000000001AAA", "005000000000002AAA", "005000000000003AAA")
HOST = "005000000000011BBB"
HOST_CALENDAR = "host1@example.com"
BOOKING_ID = "b0000000-0000-0000-0000-000000000001"
EVENT_ID = "batonb0000000000000000000000001"


@dataclass
class Run:
    """A finished run's store, org and calendar, clean until a test plants a flaw."""

    engine: sa.Engine
    org: FakeOrg
    calendar: FakeGoogleCalendar
    events: list[Any]
    requests: list[dict[str, Any]]

    def insert(self, table: sa.Table, **row: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(table.insert().values(**row))

    def execute(self, statement: sa.Executable) -> None:
        with self.engine.begin() as connection:
            connection.execute(statement)

    def problems(self) -> dict[str, list[str]]:
        found = r.reconcile(self.engine, self.org, self.calendar, self.events, self.requests)
        return {kind: [problem.subject for problem in listed] for kind, listed in found.by_kind().items()}


def _decision(run: Run, routing_id: str, record_id: str, owner: str, team: str | None, at: datetime,
              outcome: str = "assigned") -> None:
    run.insert(assignments, routing_id=routing_id, record_id=record_id, object_type="Lead", outcome=outcome,
               owner_id=owner, team=team, method="round_robin", config_version=1, log={}, event_at=at, decided_at=at)


def _booking_row(booking_id: str, request_id: str, record_id: str, status: str = "confirmed",
                 event_id: str | None = EVENT_ID) -> dict[str, Any]:
    return {"id": booking_id, "status": status, "booking_type": "Intro", "object_type": "Lead",
            "record_id": record_id, "scheduler_user_id": "005000000000009AAA", "host_id": HOST, "pool": None,
            "co_host_ids": [], "starts_at": NOW + timedelta(days=1), "ends_at": NOW + timedelta(days=1, minutes=30),
            "guest_email": "guest@prospect.example.org", "invitees": [], "platform": "google_meet",
            "request": {"request_id": request_id}, "calendar_event_id": event_id, "created_at": NOW,
            "updated_at": NOW}


@pytest.fixture
def run(tmp_path: Path) -> Run:
    """Three leads round-robined by team Inbound; a booking on the first hands it to HOST afterwards."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    upgrade_schema(engine)
    events = [lead_event(n) for n in (1, 2, 3)]
    run = Run(engine, FakeOrg(), FakeGoogleCalendar(), events,
              [{"request_id": "request-1", "record_id": events[0].record_id}])
    for event, rep in zip(events, REPS, strict=True):
        _decision(run, event.routing_id, event.record_id, rep, "Inbound", NOW)
        run.insert(record_states, object_type="Lead", record_id=event.record_id, last_event_at=NOW,
                   routing_id=event.routing_id, owner_id=rep, updated_at=NOW)
        run.org.owners[event.record_id] = rep
    run.insert(team_states, team="Inbound", state={}, decisions=3, updated_at=NOW)
    first = events[0].record_id
    _decision(run, BOOKING_ID, first, HOST, None, NOW + timedelta(minutes=1))
    run.execute(record_states.update().where(record_states.c.record_id == first).values(
        routing_id=BOOKING_ID, owner_id=HOST, last_event_at=NOW + timedelta(minutes=1)))
    run.org.owners[first] = HOST
    run.insert(bookings, **_booking_row(BOOKING_ID, "request-1", first))
    run.insert(reservations, booking_id=BOOKING_ID, host_id=HOST, starts_at=NOW + timedelta(days=1),
               ends_at=NOW + timedelta(days=1, minutes=30))
    run.calendar.events[HOST_CALENDAR] = {EVENT_ID: {"id": EVENT_ID, "status": "confirmed"}}
    run.org.events.records[BOOKING_ID] = {"Id": "00U000000000001AAA"}
    second = events[1]  # its object's facts are written back: an older decision superseded, the latest one sent
    for sequence, routing_id, status in ((1, OLDER_DECISION, "superseded"), (2, second.routing_id, "sent")):
        run.insert(outbox, routing_id=routing_id, object_type="Lead", record_id=second.record_id, owner_id=REPS[1],
                   status=status, created_at=NOW, sequence=sequence, fields=_facts(routing_id))
    run.org.field_values[second.record_id] = _facts(second.routing_id)
    return run


OLDER_DECISION = "00000000-0000-0000-0000-0000000000aa"


def _facts(routing_id: str) -> dict[str, Any]:
    return {"Baton_Team__c": "Inbound", "Baton_Routing_Id__c": routing_id, "Baton_SLA_Breached__c": False}


def test_a_clean_run_has_no_problem(run: Run) -> None:
    assert run.problems() == {}


def _older_owner_overwrote_the_booking_host(run: Run) -> None:
    run.org.owners[run.events[0].record_id] = REPS[0]


def _unknown_owner_written(run: Run) -> None:
    run.org.owners[run.events[1].record_id] = "005999999999999AAA"


def _owner_never_written(run: Run) -> None:
    del run.org.owners[run.events[2].record_id]


def _owner_written_for_an_undecided_record(run: Run) -> None:
    run.execute(record_states.delete().where(record_states.c.record_id == run.events[2].record_id))


def _event_never_decided(run: Run) -> None:
    run.execute(assignments.delete().where(assignments.c.routing_id == run.events[1].routing_id))


def _event_decided_and_dead_lettered(run: Run) -> None:
    run.insert(dead_letters, message_id="m1", queue_name="q.XQ", actor_name="assign", stage="assign",
               routing_ids=[run.events[1].routing_id], message={}, reason="boom", failed_at=NOW)


def _event_decided_and_held(run: Run) -> None:
    run.insert(holds, routing_id=run.events[2].routing_id, object_type="Lead", record_id=run.events[2].record_id,
               team="Inbound", reason="nobody on shift", context={}, held_at=NOW, recheck_at=NOW)


def _counter_bumped_twice(run: Run) -> None:
    run.execute(team_states.update().values(decisions=4))


def _orphan_calendar_event(run: Run) -> None:
    run.calendar.events[HOST_CALENDAR]["batonorphan0000000000000001"] = {"id": "batonorphan0000000000000001",
                                                                         "status": "confirmed"}


def _calendar_event_cancelled(run: Run) -> None:
    run.calendar.events[HOST_CALENDAR][EVENT_ID]["status"] = "cancelled"


def _calendar_event_on_two_calendars(run: Run) -> None:
    run.calendar.events["host2@example.com"] = {EVENT_ID: {"id": EVENT_ID, "status": "confirmed"}}


def _second_reservation(run: Run) -> None:
    run.insert(reservations, booking_id=BOOKING_ID, host_id="005000000000012BBB", starts_at=NOW,
               ends_at=NOW + timedelta(minutes=30))


def _reservation_released(run: Run) -> None:
    run.execute(reservations.delete())


def _salesforce_event_missing(run: Run) -> None:
    run.org.events.records.clear()


def _salesforce_event_of_no_booking(run: Run) -> None:
    run.org.events.records["b-unknown"] = {"Id": "00U000000000002AAA"}


def _booking_failed(run: Run) -> None:
    run.execute(bookings.update().values(status="failed", calendar_event_id=None))
    run.execute(reservations.delete())
    run.calendar.events.clear()
    run.org.events.records.clear()


def _duplicated_booking_cancels_out_a_lost_one(run: Run) -> None:
    run.requests.append({"request_id": "request-2", "record_id": run.events[1].record_id})
    run.insert(bookings, **_booking_row("b0000000-0000-0000-0000-000000000002", "request-1", run.events[0].record_id,
                                        status="failed", event_id=None))


def _older_decisions_facts_written_last(run: Run) -> None:
    run.org.field_values[run.events[1].record_id] = _facts(OLDER_DECISION)


def _facts_never_written(run: Run) -> None:
    del run.org.field_values[run.events[1].record_id]


FLAWS: dict[str, tuple[Callable[[Run], None], str, Callable[[Run], str]]] = {
    "older decision's facts written last": (_older_decisions_facts_written_last, r.OLDER_FACTS_WON,
                                            lambda run: run.events[1].record_id),
    "facts never written": (_facts_never_written, r.FACTS_NOT_WRITTEN, lambda run: run.events[1].record_id),
    "older owner overwrote the latest": (_older_owner_overwrote_the_booking_host, r.OLDER_OWNER_WON,
                                         lambda run: run.events[0].record_id),
    "owner of no decision": (_unknown_owner_written, r.WRONG_OWNER, lambda run: run.events[1].record_id),
    "owner never written": (_owner_never_written, r.OWNER_NOT_WRITTEN, lambda run: run.events[2].record_id),
    "owner without a decision": (_owner_written_for_an_undecided_record, r.OWNER_WITHOUT_DECISION,
                                 lambda run: run.events[2].record_id),
    "event never decided": (_event_never_decided, r.NO_FINAL_STATE, lambda run: run.events[1].routing_id),
    "decided and dead-lettered": (_event_decided_and_dead_lettered, r.SEVERAL_FINAL_STATES,
                                  lambda run: run.events[1].routing_id),
    "decided and held": (_event_decided_and_held, r.SEVERAL_FINAL_STATES, lambda run: run.events[2].routing_id),
    "counter bumped twice": (_counter_bumped_twice, r.COUNTER_BUMPED_TWICE, lambda run: "team_states"),
    "orphan calendar event": (_orphan_calendar_event, r.ORPHAN_EVENT, lambda run: "batonorphan0000000000000001"),
    "calendar event cancelled": (_calendar_event_cancelled, r.EVENT_MISSING, lambda run: BOOKING_ID),
    "calendar event twice": (_calendar_event_on_two_calendars, r.EVENT_DOUBLED, lambda run: BOOKING_ID),
    "second reservation": (_second_reservation, r.ORPHAN_RESERVATION, lambda run: BOOKING_ID),
    "reservation released": (_reservation_released, r.RESERVATION_MISSING, lambda run: BOOKING_ID),
    "Salesforce Event missing": (_salesforce_event_missing, r.SALESFORCE_EVENT_MISSING, lambda run: BOOKING_ID),
    "Salesforce Event of no booking": (_salesforce_event_of_no_booking, r.ORPHAN_SALESFORCE_EVENT,
                                       lambda run: "b-unknown"),
    "booking failed cleanly": (_booking_failed, r.BOOKING_NOT_CONFIRMED, lambda run: BOOKING_ID),
    "duplicated booking for a lost request": (_duplicated_booking_cancels_out_a_lost_one, r.REQUEST_WITHOUT_BOOKING,
                                              lambda run: "request-2"),
}


@pytest.mark.parametrize("flaw", list(FLAWS))
def test_each_planted_flaw_is_found_and_names_what_it_concerns(run: Run, flaw: str) -> None:
    plant, kind, subject = FLAWS[flaw]
    plant(run)

    problems = run.problems()

    assert subject(run) in problems.get(kind, []), problems


def test_a_duplicated_booking_row_is_a_doubling_even_beside_a_lost_request(run: Run) -> None:
    _duplicated_booking_cancels_out_a_lost_one(run)

    problems = run.problems()

    assert problems[r.REQUEST_WITH_SEVERAL_BOOKINGS] == ["request-1"]
    assert problems[r.REQUEST_WITHOUT_BOOKING] == ["request-2"]


def test_a_message_left_in_a_dead_letter_queue_is_a_problem(run: Run) -> None:
    found = r.reconcile(run.engine, run.org, run.calendar, run.events, run.requests, dead_letter_queue_depth=2)

    assert [problem.kind for problem in found.problems] == [r.DEAD_LETTER_QUEUED]
