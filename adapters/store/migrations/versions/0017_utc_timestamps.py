"""Timestamps in UTC on SQLite (issue 19, window 7): the rows written before are converted where their instant
can still be known.

Up to this revision the store handed SQLite a timestamp's wall time and dropped its offset: a booking asked for
``11:00+02:00`` was stored as ``2030-01-07 11:00:00.000000`` and read back as 11:00 UTC, two hours late. The
store now converts every timestamp to UTC before writing it (``adapters/store/utc.py``). Most of what SQLite
holds was written right all along: every time Baton takes from its clock is UTC, and so are Salesforce's. This
revision mends, on SQLite, what was not and can be told apart:

- A timestamp stored as text that still carries its offset or a ``T`` (``2030-01-07T11:00:00+02:00``,
  ``...Z``: written by raw SQL or another tool) is rewritten as its UTC wall time, in every timestamp column of
  every table. (The old store read only the digits of such text and ignored the offset.)
- A booking whose stored start is the wall time of the ``start`` its request asked for (the request is kept with
  the booking, offset included) while that offset is not zero: its start, its end and its reservations (one
  frame: the holds were worked out from the same start) move back by that offset to the instant asked.
- An assignment whose stored ``event_at`` is the wall time of the ``event_at`` its log kept (a record event from
  a file carries the offset it was given), and the record state that points at that assignment, likewise.

What the old store lost cannot be recovered and is left as it was: the offset of a time written and kept nowhere
else. A booking rescheduled with a start carrying an offset is the one case Baton knows of (the reschedule's
offset is not stored; its request keeps the first start): it stays shifted by that offset. A booking rescheduled
with UTC to the very wall time of its first start in another offset would be moved by mistake; nothing tells the
two apart. ``docs/operations.md`` (Upgrading to UTC timestamps) says how to list bookings to check by hand.

PostgreSQL kept instants all along (``timestamptz``): nothing changes there. There is nothing to undo: the
converted rows hold UTC wall times, which the code before this revision read as UTC too.

Revision ID: 0017_utc_timestamps
Revises: 0016_inbox
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0017_utc_timestamps"
down_revision = "0016_inbox"
branch_labels = None
depends_on = None

STORED = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy writes a DateTime on SQLite
NOT_STORED_FORM = ("{0} GLOB '*[+-][0-9][0-9]:[0-9][0-9]' OR {0} GLOB '*[+-][0-9][0-9][0-9][0-9]' "
                   "OR {0} GLOB '*Z' OR {0} GLOB '*T*'")
NO_OFFSET = ("+00:00", "Z", "+0000")


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        return
    for table, column in _timestamp_columns(connection):
        _rewrite_texts_with_offsets(connection, table, column)
    _move_shifted_bookings(connection)
    _move_shifted_event_times(connection)


def downgrade() -> None:
    """Nothing to undo: UTC wall times read as UTC under the older code too."""


def _stored(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(STORED)


def _aware(text: object) -> datetime | None:
    """An ISO date-time with a non-zero offset, or None (no text, no offset, UTC, or not a date-time)."""
    if not isinstance(text, str) or text.endswith(NO_OFFSET):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.utcoffset() else None


def _wall(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        return None


def _timestamp_columns(connection: sa.Connection) -> Iterator[tuple[str, str]]:
    inspector = sa.inspect(connection)
    for table in inspector.get_table_names():
        for column in inspector.get_columns(table):
            if isinstance(column["type"], sa.DateTime):
                yield table, column["name"]


def _rewrite_texts_with_offsets(connection: sa.Connection, table: str, column: str) -> None:
    quote = connection.dialect.identifier_preparer.quote
    name, field = quote(table), quote(column)
    rows = connection.exec_driver_sql(
        f"SELECT rowid, {field} FROM {name} WHERE typeof({field}) = 'text' AND ({NOT_STORED_FORM.format(field)})"
    ).all()
    for rowid, text in rows:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            continue  # not a date-time: leave it for a person to see
        utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        connection.exec_driver_sql(f"UPDATE {name} SET {field} = ? WHERE rowid = ?", (_stored(utc), rowid))


def _move_shifted_bookings(connection: sa.Connection) -> None:
    """Bookings stored at the wall time of the start they asked for, moved back to that instant."""
    rows = connection.exec_driver_sql(
        "SELECT id, starts_at, ends_at, json_extract(request, '$.start') FROM bookings "
        "WHERE json_extract(request, '$.start') IS NOT NULL"
    ).all()
    for booking_id, starts_at, ends_at, asked_text in rows:
        asked = _aware(asked_text)
        if asked is None or _wall(starts_at) != asked.replace(tzinfo=None):
            continue
        offset = asked.utcoffset()
        assert offset is not None
        connection.exec_driver_sql("UPDATE bookings SET starts_at = ?, ends_at = ? WHERE id = ?",
                                   (_shifted(starts_at, offset), _shifted(ends_at, offset), booking_id))
        for host_id, held_from, held_until in connection.exec_driver_sql(
                "SELECT host_id, starts_at, ends_at FROM reservations WHERE booking_id = ?", (booking_id,)).all():
            connection.exec_driver_sql(
                "UPDATE reservations SET starts_at = ?, ends_at = ? WHERE booking_id = ? AND host_id = ?",
                (_shifted(held_from, offset), _shifted(held_until, offset), booking_id, host_id))


def _shifted(stored: str, offset: timedelta) -> str:
    wall = _wall(stored)
    assert wall is not None, stored
    return (wall - offset).strftime(STORED)


def _move_shifted_event_times(connection: sa.Connection) -> None:
    """Assignments (and the record states pointing at them) stored at the wall time of their log's event time."""
    rows = connection.exec_driver_sql(
        "SELECT routing_id, event_at, json_extract(log, '$.event_at') FROM assignments "
        "WHERE json_extract(log, '$.event_at') NOT LIKE '%+00:00' AND json_extract(log, '$.event_at') NOT LIKE '%Z'"
    ).all()
    for routing_id, event_at, logged_text in rows:
        logged = _aware(logged_text)
        if logged is None or _wall(event_at) != logged.replace(tzinfo=None):
            continue
        connection.exec_driver_sql("UPDATE assignments SET event_at = ? WHERE routing_id = ?",
                                   (_stored(logged), routing_id))
        connection.exec_driver_sql("UPDATE record_states SET last_event_at = ? WHERE routing_id = ? "
                                   "AND last_event_at = ?", (_stored(logged), routing_id, event_at))
