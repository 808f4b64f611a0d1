"""How many meetings each host hosted in a period (as main host, or as the host a booking took from one of its
extra pools): booking pools and teams counting meetings ask.

One grouped query over ``bookings`` and ``booking_group_hosts``, both searched by host.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from adapters.store.tables import booking_group_hosts, bookings
from kernel.ports.bookings import COUNTED_STATUSES


def count_meetings(connection: Connection, host_ids: Iterable[str], since: datetime, until: datetime | None = None,
                   *, by: str = "booked", statuses: Sequence[str] = COUNTED_STATUSES) -> dict[str, int]:
    """Bookings each host hosted in ``[since, until)``, by when they were booked (``booked``) or when they
    take place (``meeting_time``), in ``statuses``; every host is in the answer (0: none)."""
    ids = sorted(set(host_ids))
    counts = dict.fromkeys(ids, 0)
    if not ids:
        return counts
    column = bookings.c.starts_at if by == "meeting_time" else bookings.c.created_at
    window = [column >= since] + ([column < until] if until is not None else [])
    hosted = hosted_bookings(ids)
    query = (
        sa.select(hosted.c.host_id, sa.func.count())
        .join(bookings, bookings.c.id == hosted.c.booking_id)
        .where(*window, bookings.c.status.in_(tuple(statuses)))
        .group_by(hosted.c.host_id)
    )
    counts.update({row[0]: int(row[1]) for row in connection.execute(query)})
    return counts


def hosted_bookings(host_ids: Sequence[str]) -> sa.Subquery:
    """Which bookings these hosts host: as the main host, or as the host taken from an extra pool."""
    main = sa.select(bookings.c.id.label("booking_id"), bookings.c.host_id).where(bookings.c.host_id.in_(host_ids))
    group = sa.select(booking_group_hosts.c.booking_id, booking_group_hosts.c.host_id).where(
        booking_group_hosts.c.host_id.in_(host_ids))
    return sa.union_all(main, group).subquery("hosted")
