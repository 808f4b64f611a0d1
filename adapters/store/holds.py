"""Held records: decisions waiting for someone to become available, with when each is re-checked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.store.base import transaction
from adapters.store.compare_and_set import compare_and_set
from adapters.store.tables import holds
from kernel.ports.holds import HeldRecord
from routing.lifecycles.hold import HOLD, WAITING_FOR_RECHECK, HoldStatus


class SqlHolds:
    """Held records outside the assign stage's transaction (that one saves and releases them)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def held(self, due_at: datetime | None = None, limit: int | None = None) -> list[HeldRecord]:
        """Held records, next re-check first; only those due by ``due_at`` when it is given (records waiting in
        a pull queue are never due: a member's pull decides them)."""
        query = sa.select(holds).order_by(holds.c.recheck_at, holds.c.routing_id)
        if due_at is not None:
            query = query.where(holds.c.recheck_at <= due_at, holds.c.status.in_(sorted(WAITING_FOR_RECHECK)))
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            HeldRecord(row.routing_id, row.object_type, row.record_id, row.team, row.reason, row.context,
                       row.held_at, row.recheck_at, row.checks, row.status,  # type: ignore[arg-type]
                       row.version)
            for row in rows
        ]

    def lease(self, due: Sequence[HeldRecord], until: datetime) -> list[str]:
        """Each hold leased to a re-check until ``until`` (held or rechecking -> rechecking, a compare-and-set
        on the status and version it was read with); the routing ids leased, in ``due``'s order."""
        leased: list[str] = []
        with transaction(self.engine) as connection:
            for held in due:
                if compare_and_set(connection, holds, holds.c.routing_id == held.routing_id, HOLD, held.status,
                                   held.version, HoldStatus.RECHECKING, recheck_at=until):
                    leased.append(held.routing_id)
        return leased

    def recheck_all(self, now: datetime) -> None:
        """Someone became available: every hold is due for a re-check (one being re-checked is leased again: a
        re-check already under way may have looked before the change)."""
        with transaction(self.engine) as connection:
            connection.execute(sa.update(holds).values(recheck_at=now))
