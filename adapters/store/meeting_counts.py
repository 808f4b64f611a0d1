"""How many meetings each host took as main host in a period: booking pools and teams counting meetings ask.

One grouped query over ``bookings``, searched through its ``(host_id, created_at)`` index when counting by when
meetings were booked, ``(host_id, starts_at)`` when counting by when they take place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from adapters.store.tables import bookings

COUNTED_STATUSES = ("reserved", "calendar_created", "event_created", "confirmed")  # live bookings


def count_meetings(connection: Connection, host_ids: Iterable[str], since: datetime, until: datetime | None = None,
                   *, by: str = "booked", statuses: Sequence[str] = COUNTED_STATUSES) -> dict[str, int]:
    """Bookings each host took as main host in ``[since, until)``, by when they were booked (``booked``) or
    when they take place (``meeting_time``), in ``statuses``; every host is in the answer (0: none)."""
    ids = sorted(set(host_ids))
    counts = dict.fromkeys(ids, 0)
    if not ids:
        return counts
    column = bookings.c.starts_at if by == "meeting_time" else bookings.c.created_at
    window = [column >= since] + ([column < until] if until is not None else [])
    query = (
        sa.select(bookings.c.host_id, sa.func.count())
        .where(bookings.c.host_id.in_(ids), *window, bookings.c.status.in_(tuple(statuses)))
        .group_by(bookings.c.host_id)
    )
    counts.update({row[0]: int(row[1]) for row in connection.execute(query)})
    return counts
