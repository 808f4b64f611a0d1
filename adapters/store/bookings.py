"""Bookings and slot reservations in SQL: the bookings repository (``kernel.ports.bookings``).

A reservation holds one host's time (meeting plus buffers). PostgreSQL refuses two overlapping
reservations of one host itself (an exclusion constraint); on SQLite every write transaction is
``BEGIN IMMEDIATE``, so the overlap check and the insert below cannot interleave with another's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from adapters.store.base import ConcurrentWriteConflict, database_failure, transaction
from adapters.store.compare_and_set import compare_and_set
from adapters.store.meeting_counts import COUNTED_STATUSES, count_meetings, hosted_bookings
from adapters.store.tables import (
    booking_group_hosts,
    bookings,
    calendar_sync,
    pool_credits,
    reservations,
)
from kernel.errors import TransientError
from kernel.ports.bookings import (
    BookingExists,
    BookingRow,
    CapLimit,
    CapReached,
    Hold,
    NewBooking,
    PoolCredits,
    SlotTaken,
)
from routing.lifecycles.booking import BOOKING, FINAL_STATUSES, IN_CHAIN

EXCLUSION_VIOLATION = "23P01"
CONFLICT_ATTEMPTS = 5
CAPPED_STATUSES = (*COUNTED_STATUSES, "no_show")  # meetings that took (or take) the host's time
CAP_LOCK_NAMESPACE = 0x6A7C  # pg_advisory_xact_lock(namespace, hashtext(host)) around a cap check
ENDED_STATUSES = tuple(sorted(FINAL_STATUSES))  # the chain is over: confirmed, failed, cancelled, no-show


def _row(row: Any) -> BookingRow:
    return BookingRow(**row._mapping)


def _new_row(booking: NewBooking) -> dict[str, Any]:
    return {**asdict(booking), "updated_at": booking.created_at}


class SqlBookings:
    """The bookings repository over one engine."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._postgresql = engine.dialect.name == "postgresql"

    def reserve(self, booking: NewBooking, holds: Sequence[Hold], caps: Sequence[CapLimit] = (),
                credits: Sequence[PoolCredits] = (), group_hosts: Mapping[str, str] | None = None) -> None:
        """Stores the booking and its holds in one transaction, or raises SlotTaken naming the hosts
        whose time is already held, or CapReached when a capped window is full (nothing is stored
        then). Caps are counted under a per-host lock, so concurrent bookings never exceed one.
        ``group_hosts``: the host taken from each extra pool (pool -> host), who then counts as hosting
        the meeting. A transaction that PostgreSQL aborts as a deadlock with a concurrent booking (both
        checking the exclusion constraint) is run again: the second try sees the other booking's
        committed holds."""
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                self._reserve_once(booking, holds, caps, credits, group_hosts or {})
                return
            except ConcurrentWriteConflict:
                if attempt == CONFLICT_ATTEMPTS:
                    raise

    def _reserve_once(self, booking: NewBooking, holds: Sequence[Hold], caps: Sequence[CapLimit],
                      credits: Sequence[PoolCredits], group_hosts: Mapping[str, str]) -> None:
        try:
            with self.engine.begin() as connection:
                if not self._postgresql:
                    taken = _overlapping_hosts(connection, holds)
                    if taken:
                        raise SlotTaken(taken)
                self._check_caps(connection, caps)
                connection.execute(sa.insert(bookings), [_new_row(booking)])
                if group_hosts:
                    connection.execute(sa.insert(booking_group_hosts), [
                        {"booking_id": booking.id, "pool": pool, "host_id": host}
                        for pool, host in sorted(group_hosts.items())])
                for pool in credits:
                    self._save_credits(connection, pool, booking.created_at)
                connection.execute(
                    sa.insert(reservations),
                    [{"booking_id": booking.id, "host_id": hold.host_id, "starts_at": hold.start,
                      "ends_at": hold.end} for hold in holds],
                )
        except sa.exc.IntegrityError as exc:
            if getattr(exc.orig, "sqlstate", None) == EXCLUSION_VIOLATION:
                raise SlotTaken([hold.host_id for hold in holds]) from None
            if self.get(booking.id) is not None:
                raise BookingExists(booking.id) from None
            raise TransientError(f"booking not stored, will re-read: {exc.orig or exc}") from exc
        except sa.exc.OperationalError as exc:
            raise database_failure(exc) from exc

    def _check_caps(self, connection: Connection, caps: Sequence[CapLimit], moving: str | None = None) -> None:
        for host in sorted({cap.host_id for cap in caps}) if self._postgresql else ():
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(CAP_LOCK_NAMESPACE, sa.func.hashtext(host))))
        for cap in caps:
            hosted = hosted_bookings([cap.host_id])
            taken = connection.execute(
                sa.select(sa.func.count()).select_from(hosted).join(bookings, bookings.c.id == hosted.c.booking_id)
                .where(bookings.c.status.in_(CAPPED_STATUSES), bookings.c.starts_at >= cap.start,
                       bookings.c.starts_at < cap.end, bookings.c.id != (moving or ""))
            ).scalar_one()
            if taken >= cap.limit:
                raise CapReached(cap.host_id, cap.reason)

    def _save_credits(self, connection: Connection, credits: PoolCredits, now: datetime) -> None:
        """Credits only grow within a period (two bookings racing both lift to their level)."""
        if not credits.credits:
            return
        insert = postgresql.insert if self._postgresql else sqlite.insert
        statement = insert(pool_credits).values([
            {"pool": credits.pool, "period": credits.period, "host_id": host, "credit": credit, "updated_at": now}
            for host, credit in sorted(credits.credits.items())
        ])
        connection.execute(statement.on_conflict_do_update(
            index_elements=["pool", "period", "host_id"],
            set_={"credit": sa.func.greatest(pool_credits.c.credit, statement.excluded.credit)
                  if self._postgresql else sa.func.max(pool_credits.c.credit, statement.excluded.credit),
                  "updated_at": statement.excluded.updated_at},
        ))

    def pool_credits(self, pool: str, period: str) -> dict[str, int]:
        """Calibration credits of a pool's members in one period (a row, even 0, marks a member counted)."""
        query = sa.select(pool_credits.c.host_id, pool_credits.c.credit).where(
            pool_credits.c.pool == pool, pool_credits.c.period == period)
        with self.engine.connect() as connection:
            return {row.host_id: int(row.credit) for row in connection.execute(query)}

    def meeting_starts(self, host_ids: Iterable[str], start: datetime, end: datetime) -> dict[str, list[datetime]]:
        """Start times of the meetings the hosts host (main host, or taken from an extra pool) that take their
        time (caps count these), in ``[start, end)``."""
        ids = sorted(set(host_ids))
        found: dict[str, list[datetime]] = {host: [] for host in ids}
        if not ids:
            return found
        hosted = hosted_bookings(ids)
        query = (
            sa.select(hosted.c.host_id, bookings.c.starts_at)
            .join(bookings, bookings.c.id == hosted.c.booking_id)
            .where(bookings.c.status.in_(CAPPED_STATUSES), bookings.c.starts_at >= start, bookings.c.starts_at < end)
        )
        with self.engine.connect() as connection:
            for row in connection.execute(query):
                found[row.host_id].append(row.starts_at)
        return found

    def move(self, booking_id: str, host_id: str, start: datetime, end: datetime, holds: Sequence[Hold],
             now: datetime, caps: Sequence[CapLimit] = ()) -> None:
        """Moves a booking to another time and/or host in one transaction: its old holds go, the new ones
        are taken (SlotTaken / CapReached leave everything as it was)."""
        try:
            with self.engine.begin() as connection:
                connection.execute(sa.delete(reservations).where(reservations.c.booking_id == booking_id))
                if not self._postgresql:
                    taken = _overlapping_hosts(connection, holds)
                    if taken:
                        raise SlotTaken(taken)
                self._check_caps(connection, caps, moving=booking_id)
                connection.execute(sa.insert(reservations), [
                    {"booking_id": booking_id, "host_id": hold.host_id, "starts_at": hold.start, "ends_at": hold.end}
                    for hold in holds])
                connection.execute(sa.update(bookings).where(bookings.c.id == booking_id).values(
                    host_id=host_id, starts_at=start, ends_at=end, updated_at=now))
        except sa.exc.IntegrityError as exc:
            if getattr(exc.orig, "sqlstate", None) == EXCLUSION_VIOLATION:
                raise SlotTaken([hold.host_id for hold in holds]) from None
            raise TransientError(f"booking {booking_id} not moved: {exc.orig or exc}") from exc
        except sa.exc.OperationalError as exc:
            raise database_failure(exc) from exc

    def replace_co_host(self, booking_id: str, leaving: str, joining: Hold | None, now: datetime, *,
                        pool: str | None = None, caps: Sequence[CapLimit] = ()) -> None:
        """In one transaction: ``leaving``'s hold on the booking goes and they leave its co-hosts (and no longer
        host it for their extra pool); ``joining`` (when given) takes their place in the list, holds its time
        and hosts for ``pool`` within its ``caps`` (SlotTaken or CapReached leaves everything as it was)."""
        try:
            with self.engine.begin() as connection:
                co_hosts = connection.execute(
                    sa.select(bookings.c.co_host_ids).where(bookings.c.id == booking_id)).scalar_one()
                connection.execute(sa.delete(reservations).where(reservations.c.booking_id == booking_id,
                                                                 reservations.c.host_id == leaving))
                connection.execute(sa.delete(booking_group_hosts).where(
                    booking_group_hosts.c.booking_id == booking_id, booking_group_hosts.c.host_id == leaving))
                if joining is not None:
                    if not self._postgresql and _overlapping_hosts(connection, [joining]):
                        raise SlotTaken([joining.host_id])
                    self._check_caps(connection, caps)
                    connection.execute(sa.insert(reservations).values(
                        booking_id=booking_id, host_id=joining.host_id, starts_at=joining.start, ends_at=joining.end))
                    if pool is not None:
                        connection.execute(sa.insert(booking_group_hosts).values(
                            booking_id=booking_id, pool=pool, host_id=joining.host_id))
                replaced = [joining.host_id if joining is not None and host == leaving else host
                            for host in co_hosts if host != leaving or joining is not None]
                connection.execute(sa.update(bookings).where(bookings.c.id == booking_id).values(
                    co_host_ids=replaced, updated_at=now))
        except sa.exc.IntegrityError as exc:
            if getattr(exc.orig, "sqlstate", None) == EXCLUSION_VIOLATION:
                raise SlotTaken([joining.host_id] if joining is not None else []) from None
            raise TransientError(f"co-host {leaving} of booking {booking_id} not replaced: {exc.orig or exc}") from exc
        except sa.exc.OperationalError as exc:
            raise database_failure(exc) from exc

    def group_hosts_of(self, booking_id: str) -> dict[str, str]:
        """The host the booking took from each of its extra pools, by pool."""
        query = sa.select(booking_group_hosts.c.pool, booking_group_hosts.c.host_id).where(
            booking_group_hosts.c.booking_id == booking_id)
        with self.engine.connect() as connection:
            return {str(row.pool): str(row.host_id) for row in connection.execute(query.order_by(
                booking_group_hosts.c.pool))}

    def live_event_hosts(self, since: datetime) -> list[str]:
        """Hosts whose calendars hold events of bookings still live and ending after ``since``."""
        host = sa.func.coalesce(bookings.c.calendar_host_id, bookings.c.host_id)
        query = sa.select(host).distinct().where(
            bookings.c.calendar_event_id.is_not(None), bookings.c.ends_at > since,
            bookings.c.status.in_(COUNTED_STATUSES))
        with self.engine.connect() as connection:
            return sorted(str(row[0]) for row in connection.execute(query))

    def by_calendar_event(self, event_ids: Iterable[str]) -> dict[str, BookingRow]:
        ids = sorted(set(event_ids))
        if not ids:
            return {}
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(bookings).where(bookings.c.calendar_event_id.in_(ids)))
            return {str(row.calendar_event_id): _row(row) for row in rows}

    def by_salesforce_event(self, event_id: str) -> BookingRow | None:
        """The booking whose Salesforce Event has this Id (15 or 18 characters)."""
        wanted = [event_id, event_id[:15]] if len(event_id) == 18 else [event_id]
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(bookings).where(
                sa.func.substr(bookings.c.salesforce_event_id, 1, len(wanted[-1])).in_(wanted))).first()
        return _row(row) if row is not None else None

    def calendar_sync_token(self, calendar: str) -> str | None:
        with self.engine.connect() as connection:
            return connection.execute(
                sa.select(calendar_sync.c.sync_token).where(calendar_sync.c.calendar == calendar)).scalar()

    def save_calendar_sync_token(self, calendar: str, token: str | None, now: datetime) -> None:
        """Stores the token for the next poll (None forgets it: the next poll reads the calendar again)."""
        with self.engine.begin() as connection:
            connection.execute(sa.delete(calendar_sync).where(calendar_sync.c.calendar == calendar))
            if token is not None:
                connection.execute(sa.insert(calendar_sync).values(calendar=calendar, sync_token=token, updated_at=now))

    def get(self, booking_id: str) -> BookingRow | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(bookings).where(bookings.c.id == booking_id)).first()
        return _row(row) if row is not None else None

    def transition(self, booking: BookingRow, to: str, now: datetime) -> bool:
        """The booking moves from the status and version it was read with to ``to``; False when it changed since
        (a race lost: nothing is written)."""
        return self._compare_and_set(booking, to, now)

    def record_calendar_event(self, booking: BookingRow, to: str, now: datetime, *, event_id: str,
                              meet_link: str | None, host_id: str) -> bool:
        """The booking's calendar event was made, on ``host_id``'s calendar: recorded with the move to ``to``,
        or not at all when the booking changed since it was read (False)."""
        return self._compare_and_set(booking, to, now, calendar_event_id=event_id, meet_link=meet_link,
                                     calendar_host_id=host_id)

    def record_salesforce_event(self, booking: BookingRow, to: str, event_id: str, now: datetime) -> bool:
        """The booking's Salesforce Event was upserted: recorded with the move to ``to`` (False: the booking
        changed since it was read, nothing written)."""
        return self._compare_and_set(booking, to, now, salesforce_event_id=event_id)

    def record_calendar_holder(self, booking_id: str, host_id: str, now: datetime) -> None:
        """The booking's calendar event moved to ``host_id``'s calendar (its video link kept)."""
        self._set(booking_id, now, calendar_host_id=host_id)

    def record_recreated_calendar_event(self, booking_id: str, host_id: str, meet_link: str | None,
                                        now: datetime) -> None:
        """The booking's calendar event was made again on ``host_id``'s calendar, with this video link."""
        self._set(booking_id, now, calendar_host_id=host_id, meet_link=meet_link)

    def release(self, booking: BookingRow, to: str, now: datetime, error: str | None) -> bool:
        """The booking ends (``to``: cancelled or failed) with ``error``, and its reserved time is freed, in one
        transaction; False (nothing changed) when it changed since it was read."""
        with transaction(self.engine) as connection:
            if not compare_and_set(connection, bookings, bookings.c.id == booking.id, BOOKING, booking.status,
                                   booking.version, to, error=error, updated_at=now):
                return False
            connection.execute(sa.delete(reservations).where(reservations.c.booking_id == booking.id))
        return True

    def resume(self, booking: BookingRow, now: datetime) -> bool:
        """Claims the restart of a booking's stopped chain: its ``updated_at`` becomes ``now`` (so it counts as
        stopped again only a grace period later) while it still has the status and version it was read with."""
        with transaction(self.engine) as connection:
            result = connection.execute(sa.update(bookings).where(
                bookings.c.id == booking.id, bookings.c.status == booking.status,
                bookings.c.version == booking.version).values(updated_at=now))
        return result.rowcount == 1

    def stopped(self, before: datetime, limit: int = 100) -> list[BookingRow]:
        """Bookings with a step of their chain still to run that did not change after ``before``, oldest first."""
        query = (sa.select(bookings).where(bookings.c.status.in_(sorted(IN_CHAIN)), bookings.c.updated_at <= before)
                 .order_by(bookings.c.updated_at, bookings.c.id).limit(limit))
        with self.engine.connect() as connection:
            return [_row(row) for row in connection.execute(query)]

    def _compare_and_set(self, booking: BookingRow, to: str, now: datetime, **values: Any) -> bool:
        with transaction(self.engine) as connection:
            return compare_and_set(connection, bookings, bookings.c.id == booking.id, BOOKING, booking.status,
                                   booking.version, to, updated_at=now, **values)

    def _set(self, booking_id: str, now: datetime, **values: str | None) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(bookings).where(bookings.c.id == booking_id).values(updated_at=now, **values)
            )

    def held_times(self, host_ids: Iterable[str], start: datetime, end: datetime,
                   ignore_booking: str | None = None) -> dict[str, list[Hold]]:
        """Reserved time of these hosts overlapping ``[start, end)`` (but ``ignore_booking``'s)."""
        ids = sorted(set(host_ids))
        found: dict[str, list[Hold]] = {host: [] for host in ids}
        if not ids:
            return found
        query = sa.select(reservations.c.host_id, reservations.c.starts_at, reservations.c.ends_at).where(
            reservations.c.host_id.in_(ids), reservations.c.starts_at < end, reservations.c.ends_at > start,
            reservations.c.booking_id != (ignore_booking or ""),
        )
        with self.engine.connect() as connection:
            for row in connection.execute(query):
                found[row.host_id].append(Hold(row.host_id, row.starts_at, row.ends_at))
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

    def meeting_counts(self, host_ids: Iterable[str], since: datetime, until: datetime | None = None, *,
                       by: str = "booked", statuses: Sequence[str] = COUNTED_STATUSES) -> dict[str, int]:
        """Bookings each host hosted (as main host, or as the host taken from an extra pool) in ``[since, until)``
        (the pool's reset period), by when they were booked (``booked``) or when they take place
        (``meeting_time``), in ``statuses``."""
        with self.engine.connect() as connection:
            return count_meetings(connection, host_ids, since, until, by=by, statuses=statuses)


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
