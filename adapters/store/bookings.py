"""Bookings and slot reservations in the store.

A reservation holds one host's time (meeting plus buffers). PostgreSQL refuses two overlapping
reservations of one host itself (an exclusion constraint); on SQLite every write transaction is
``BEGIN IMMEDIATE``, so the overlap check and the insert below cannot interleave with another's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from adapters.store.repository import as_utc
from adapters.store.tables import bookings, reservations
from baton.errors import DependencyUnavailable, TransientError

EXCLUSION_VIOLATION = "23P01"
COUNTED_STATUSES = ("reserved", "calendar_created", "event_created", "confirmed")
ENDED_STATUSES = ("confirmed", "failed", "cancelled")


class SlotTaken(Exception):
    """Another booking already holds time of these hosts."""

    def __init__(self, host_ids: Sequence[str]):
        self.host_ids = tuple(host_ids)
        super().__init__(f"already reserved: {', '.join(self.host_ids)}")


@dataclass(frozen=True)
class Hold:
    """One host's time a booking holds: ``[start, end)``, buffers included."""

    host_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class BookingRow:
    id: str
    status: str
    booking_type: str
    object_type: str
    record_id: str
    scheduler_user_id: str
    host_id: str
    pool: str | None
    co_host_ids: list[str]
    starts_at: datetime
    ends_at: datetime
    guest_email: str
    invitees: list[str]
    platform: str
    request: dict[str, Any]
    calendar_event_id: str | None
    meet_link: str | None
    salesforce_event_id: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime


def _row(row: Any) -> BookingRow:
    values = dict(row._mapping)
    for name in ("starts_at", "ends_at", "created_at", "updated_at"):
        values[name] = as_utc(values[name])
    return BookingRow(**values)


class BookingStore:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._postgresql = engine.dialect.name == "postgresql"

    def reserve(self, booking: Mapping[str, Any], holds: Sequence[Hold]) -> None:
        """Stores the booking and its holds in one transaction, or raises SlotTaken naming the hosts
        whose time is already held (nothing is stored then)."""
        try:
            with self.engine.begin() as connection:
                if not self._postgresql:
                    taken = _overlapping_hosts(connection, holds)
                    if taken:
                        raise SlotTaken(taken)
                connection.execute(sa.insert(bookings), [dict(booking)])
                connection.execute(
                    sa.insert(reservations),
                    [{"booking_id": booking["id"], "host_id": hold.host_id, "starts_at": hold.start,
                      "ends_at": hold.end} for hold in holds],
                )
        except sa.exc.IntegrityError as exc:
            if getattr(exc.orig, "sqlstate", None) == EXCLUSION_VIOLATION:
                raise SlotTaken([hold.host_id for hold in holds]) from None
            if self.get(str(booking["id"])) is not None:
                raise BookingExists(str(booking["id"])) from None
            raise TransientError(f"booking not stored, will re-read: {exc.orig or exc}") from exc
        except sa.exc.OperationalError as exc:
            raise DependencyUnavailable(f"database unavailable: {exc.orig or exc}") from exc

    def get(self, booking_id: str) -> BookingRow | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(bookings).where(bookings.c.id == booking_id)).first()
        return _row(row) if row is not None else None

    def update(self, booking_id: str, now: datetime, **values: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(bookings).where(bookings.c.id == booking_id).values(updated_at=now, **values)
            )

    def release(self, booking_id: str, now: datetime, status: str, error: str | None) -> None:
        """Frees the booking's reserved time and records how it ended."""
        with self.engine.begin() as connection:
            connection.execute(sa.delete(reservations).where(reservations.c.booking_id == booking_id))
            connection.execute(
                sa.update(bookings).where(bookings.c.id == booking_id)
                .values(status=status, error=error, updated_at=now)
            )

    def held_times(self, host_ids: Iterable[str], start: datetime, end: datetime) -> dict[str, list[Hold]]:
        """Reserved time of these hosts overlapping ``[start, end)``."""
        ids = sorted(set(host_ids))
        found: dict[str, list[Hold]] = {host: [] for host in ids}
        if not ids:
            return found
        query = sa.select(reservations.c.host_id, reservations.c.starts_at, reservations.c.ends_at).where(
            reservations.c.host_id.in_(ids), reservations.c.starts_at < end, reservations.c.ends_at > start
        )
        with self.engine.connect() as connection:
            for row in connection.execute(query):
                found[row.host_id].append(Hold(row.host_id, as_utc(row.starts_at), as_utc(row.ends_at)))  # type: ignore[arg-type]
        return found

    def ended_since(self, since: datetime, limit: int, *, pools: Sequence[str] = (), objects: Sequence[str] = (),
                    statuses: Sequence[str] = (), hosts: Sequence[str] = ()) -> list[BookingRow]:
        """The newest ``limit`` bookings that ended (confirmed, failed, cancelled) at or after ``since``, oldest
        first; each non-empty filter is an OR of its values."""
        query = sa.select(bookings).where(bookings.c.updated_at >= since, bookings.c.status.in_(ENDED_STATUSES))
        for wanted, column in ((pools, bookings.c.pool), (objects, bookings.c.object_type),
                               (statuses, bookings.c.status), (hosts, bookings.c.host_id)):
            if wanted:
                query = query.where(column.in_(list(wanted)))
        query = query.order_by(bookings.c.updated_at.desc(), bookings.c.id.desc()).limit(limit)
        with self.engine.connect() as connection:
            rows = [_row(row) for row in connection.execute(query)]
        return rows[::-1]

    def meeting_counts(self, host_ids: Iterable[str], since: datetime) -> dict[str, int]:
        """Live bookings each host took as main host since ``since`` (the pool's reset interval)."""
        ids = sorted(set(host_ids))
        counts = dict.fromkeys(ids, 0)
        if not ids:
            return counts
        query = (
            sa.select(bookings.c.host_id, sa.func.count())
            .where(bookings.c.host_id.in_(ids), bookings.c.created_at >= since,
                   bookings.c.status.in_(COUNTED_STATUSES))
            .group_by(bookings.c.host_id)
        )
        with self.engine.connect() as connection:
            counts.update({row[0]: int(row[1]) for row in connection.execute(query)})
        return counts


class BookingExists(Exception):
    """A booking with this id was stored before (a repeated request)."""

    def __init__(self, booking_id: str):
        self.booking_id = booking_id
        super().__init__(f"booking {booking_id} exists")


def _overlapping_hosts(connection: Connection, holds: Sequence[Hold]) -> list[str]:
    taken: list[str] = []
    for hold in holds:
        clash = connection.execute(
            sa.select(reservations.c.booking_id).where(
                reservations.c.host_id == hold.host_id,
                reservations.c.starts_at < hold.end,
                reservations.c.ends_at > hold.start,
            ).limit(1)
        ).first()
        if clash is not None:
            taken.append(hold.host_id)
    return taken
