"""Upgrading a store the old code wrote: on SQLite the times whose instant can still be told (a booking at the
wall time of the start it asked for, an assignment at the wall time of its log's event, text carrying its offset)
are moved to that instant; what the old code lost stays as it was; PostgreSQL, which kept instants, is unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from adapters.store import Store, make_engine, upgrade_schema
from adapters.store.tables import (
    assignments,
    bookings,
    holds,
    metadata,
    record_states,
    reservations,
)
from adapters.store.utc import UtcDateTime

BEFORE = "0013_meeting_counts"
PLUS_TWO = timezone(timedelta(hours=2))
MINUS_FIVE = timezone(timedelta(hours=-5))
CLOCK = datetime(2030, 1, 6, 15, 0, tzinfo=UTC)  # what Baton's clock wrote: UTC, stored right all along
ASKED = datetime(2030, 1, 7, 11, 0, tzinfo=PLUS_TWO)  # 09:00 UTC
EVENT_AT = datetime(2030, 1, 5, 8, 0, tzinfo=MINUS_FIVE)  # 13:00 UTC
HOST, CO_HOST = "005000000000001AAA", "005000000000002AAA"
BUFFER = timedelta(minutes=10)


def old_tables() -> dict[str, sa.Table]:
    """The store's tables with the column type the old code had: SQLite got a timestamp's wall time."""
    old = sa.MetaData()
    for table in metadata.tables.values():
        copy = table.to_metadata(old)
        for column in copy.columns:
            if isinstance(column.type, UtcDateTime):
                column.type = sa.DateTime(timezone=True)
    return dict(old.tables)


def booking(booking_id: str, start: datetime, asked: str | None) -> dict[str, Any]:
    return {"id": booking_id, "status": "confirmed", "booking_type": "Intro", "object_type": "Lead",
            "record_id": "00Q000000000001AAA", "scheduler_user_id": "005000000000009AAA", "host_id": HOST,
            "pool": "Handover", "co_host_ids": [CO_HOST], "starts_at": start, "ends_at": start + timedelta(minutes=30),
            "guest_email": "pat@example.org", "invitees": [], "platform": "google_meet",
            "request": {"start": asked, "config_version": 1}, "created_at": CLOCK, "updated_at": CLOCK}


def held(booking_id: str, start: datetime) -> list[dict[str, Any]]:
    return [{"booking_id": booking_id, "host_id": host, "starts_at": start - BUFFER,
             "ends_at": start + timedelta(minutes=30) + BUFFER} for host in (HOST, CO_HOST)]


def write_as_the_old_code(engine: sa.Engine) -> None:
    old = old_tables()
    rescheduled = datetime(2030, 1, 8, 14, 0, tzinfo=PLUS_TWO)  # moved; its request keeps the first start
    with engine.begin() as connection:
        connection.execute(sa.insert(old["bookings"]), [
            booking("shifted", ASKED, ASKED.isoformat()),
            booking("asked-in-utc", ASKED.astimezone(UTC), ASKED.astimezone(UTC).isoformat().replace("+00:00", "Z")),
            booking("rescheduled", rescheduled, ASKED.isoformat()),
            booking("meet-now", CLOCK, None)])
        connection.execute(sa.insert(old["reservations"]), [
            *held("shifted", ASKED), *held("rescheduled", rescheduled)])
        log = {"routing_id": "r-1", "event_at": EVENT_AT.isoformat(), "decided_at": CLOCK.isoformat()}
        connection.execute(sa.insert(old["assignments"]).values(
            routing_id="r-1", record_id="00Q000000000001AAA", object_type="Lead", outcome="assigned", log=log,
            event_at=EVENT_AT, decided_at=CLOCK))
        connection.execute(sa.insert(old["record_states"]).values(
            object_type="Lead", record_id="00Q000000000001AAA", last_event_at=EVENT_AT, routing_id="r-1",
            updated_at=CLOCK))
        connection.execute(sa.insert(old["holds"]).values(
            routing_id="r-2", object_type="Lead", record_id="00Q000000000002AAA", team="Sales", reason="no one free",
            context={}, held_at=CLOCK, recheck_at=CLOCK))
        if engine.dialect.name == "sqlite":  # another tool wrote a time as ISO text with its offset
            connection.exec_driver_sql("UPDATE holds SET recheck_at = '2030-01-07T12:00:00+02:00'")


@pytest.fixture(params=["sqlite", "postgresql"])
def upgraded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store at the revision before, written by the old code, then upgraded to the newest revision."""
    if request.param == "sqlite":
        engine, schema = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}"), None
    else:
        schema = request.getfixturevalue("pg_schema")
        engine = make_engine(request.getfixturevalue("postgres_url"), schema)
    upgrade_schema(engine, schema, revision=BEFORE)
    write_as_the_old_code(engine)
    upgrade_schema(engine, schema)
    yield Store(engine)
    engine.dispose()


def starts(store: Store, booking_id: str) -> tuple[datetime, datetime, set[tuple[datetime, datetime]]]:
    with store.engine.connect() as connection:
        row = connection.execute(sa.select(bookings.c.starts_at, bookings.c.ends_at)
                                 .where(bookings.c.id == booking_id)).one()
        holds_of = {(held.starts_at, held.ends_at) for held in connection.execute(
            sa.select(reservations).where(reservations.c.booking_id == booking_id))}
    return row.starts_at, row.ends_at, holds_of


def test_a_booking_stored_at_the_wall_time_it_asked_for_is_at_that_instant(upgraded: Store) -> None:
    end = ASKED + timedelta(minutes=30)
    assert starts(upgraded, "shifted") == (ASKED, end, {(ASKED - BUFFER, end + BUFFER)})
    found = upgraded.bookings.get("shifted")
    assert found is not None and found.starts_at == ASKED and found.starts_at.tzinfo is UTC


def test_times_stored_right_are_left_as_they_were(upgraded: Store) -> None:
    assert starts(upgraded, "asked-in-utc")[0] == ASKED
    assert starts(upgraded, "meet-now")[0] == CLOCK
    found = upgraded.bookings.get("shifted")
    assert found is not None and (found.created_at, found.updated_at) == (CLOCK, CLOCK)


def test_an_assignment_and_its_record_state_are_at_the_event_time_of_its_log(upgraded: Store) -> None:
    with upgraded.engine.connect() as connection:
        event_at = connection.execute(sa.select(assignments.c.event_at)).scalar_one()
        last_event_at = connection.execute(sa.select(record_states.c.last_event_at)).scalar_one()
    assert event_at == last_event_at == EVENT_AT


@pytest.mark.parametrize("upgraded", ["sqlite"], indirect=True)  # PostgreSQL kept instants: nothing to convert
def test_on_sqlite_text_with_an_offset_is_rewritten_and_a_lost_offset_stays_lost(upgraded: Store) -> None:
    with upgraded.engine.connect() as connection:
        recheck_at = connection.execute(sa.select(holds.c.recheck_at)).scalar_one()
        stored = connection.exec_driver_sql("SELECT recheck_at FROM holds").scalar_one()
    assert recheck_at == datetime(2030, 1, 7, 10, 0, tzinfo=UTC) and stored == "2030-01-07 10:00:00.000000"
    # a reschedule's offset was kept nowhere: 14:00+02:00 still reads as 14:00 UTC (docs/operations.md)
    assert starts(upgraded, "rescheduled")[0] == datetime(2030, 1, 8, 14, 0, tzinfo=UTC)
