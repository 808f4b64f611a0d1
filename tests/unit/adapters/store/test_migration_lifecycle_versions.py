"""Migration 0014 on a store holding bookings and held records made before it (SQLite and PostgreSQL): each
existing booking starts at version 1, each hold as ``held`` at version 1, and a transition applies to them as to
new rows; downgrading removes the columns again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.store import Store
from tests.support.migrations import empty_store, migrate

BEFORE = "0013_meeting_counts"
THIS = "0014_lifecycle_versions"
AT = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, str | None]]:
    """A store at the revision before this one, with one booking and one held record in it."""
    engine, schema = empty_store(request, tmp_path)
    migrate(engine, schema, BEFORE)
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO bookings (id, status, booking_type, object_type, record_id, scheduler_user_id, host_id,"
            " co_host_ids, starts_at, ends_at, guest_email, invitees, platform, request, created_at, updated_at)"
            " VALUES ('old', 'reserved', 'Intro', 'Lead', '00Q000000000001AAA', '005000000000009AAA',"
            " '005000000000001AAA', '[]', :start, :end, 'pat@example.org', '[]', 'none', '{}', :at, :at)"),
            {"start": AT, "end": AT + timedelta(minutes=30), "at": AT})
        connection.execute(sa.text(
            "INSERT INTO holds (routing_id, object_type, record_id, team, reason, context, held_at, recheck_at)"
            " VALUES ('r1', 'Lead', '00Q000000000002AAA', 'Inbound', 'nobody free', '{}', :at, :at)"), {"at": AT})
    yield engine, schema
    engine.dispose()


def test_rows_made_before_start_at_version_one_and_take_transitions(old_store: tuple[Engine, str | None]) -> None:
    engine, schema = old_store
    migrate(engine, schema, THIS)
    store = Store(engine)

    booking = store.bookings.get("old")
    [hold] = store.holds.held()
    assert booking is not None and (booking.status, booking.version) == ("reserved", 1)
    assert (hold.status, hold.version) == ("held", 1)
    assert store.bookings.transition(booking, "calendar_created", AT) and not store.bookings.transition(
        booking, "calendar_created", AT)
    assert store.holds.lease([hold], AT) == ["r1"]

    migrate(engine, schema, BEFORE, down=True)
    columns = {table: {column["name"] for column in sa.inspect(engine).get_columns(table)}
               for table in ("bookings", "holds")}
    assert "version" not in columns["bookings"] and not {"status", "version"} & columns["holds"]
