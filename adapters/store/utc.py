"""Every timestamp column of the store: an instant, written and read as UTC on SQLite and PostgreSQL alike.

SQLite has no time zones: SQLAlchemy's ``DateTime`` writes a datetime's wall time and drops its offset, so
``11:00+02:00`` used to be stored as ``11:00`` and read back as ``11:00Z``, two hours late. ``UtcDateTime``
converts an aware datetime to UTC before it is written (as a column value or as the value a column is compared
with), refuses a naive one (which instant it means is a guess), and hands every value back aware, in UTC.
On SQLite the stored text is the UTC wall time (``2030-01-07 09:00:00.000000``), which also sorts and compares
as the instants do; on PostgreSQL the column is ``timestamptz``, and what it answers in the session's zone
comes back converted to UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class NaiveTimestamp(TypeError):
    """A datetime without an offset was to be stored: the store cannot know which instant it means."""

    def __init__(self, value: datetime):
        super().__init__(f"the store keeps instants: {value.isoformat()} has no UTC offset; "
                         "give an aware datetime (e.g. datetime.now(UTC))")


def to_utc(value: datetime) -> datetime:
    """``value`` as the same instant in UTC; raises NaiveTimestamp for a datetime without an offset."""
    if not isinstance(value, datetime):
        raise TypeError(f"a timestamp column takes a datetime, not {type(value).__name__} ({value!r})")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveTimestamp(value)
    return value.astimezone(UTC)


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp column: aware datetimes in (converted to UTC), aware UTC datetimes out."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        instant = to_utc(value)
        return instant.replace(tzinfo=None) if dialect.name == "sqlite" else instant

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite: the stored text is the UTC wall time
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)  # PostgreSQL answers in the session's time zone
