"""Held records: decisions waiting for someone to become available, with when each is re-checked."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.store.base import transaction
from adapters.store.tables import holds
from kernel.ports.holds import HeldRecord


class SqlHolds:
    """Held records outside the assign stage's transaction (that one saves and releases them)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def held(self, due_at: datetime | None = None, limit: int | None = None) -> list[HeldRecord]:
        """Held records, next re-check first; only those due by ``due_at`` when it is given."""
        query = sa.select(holds).order_by(holds.c.recheck_at, holds.c.routing_id)
        if due_at is not None:
            query = query.where(holds.c.recheck_at <= due_at)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            HeldRecord(row.routing_id, row.object_type, row.record_id, row.team, row.reason, row.context,
                       row.held_at, row.recheck_at, row.checks)
            for row in rows
        ]

    def postpone(self, routing_ids: Iterable[str], until: datetime) -> None:
        ids = list(routing_ids)
        if ids:
            with transaction(self.engine) as connection:
                connection.execute(sa.update(holds).where(holds.c.routing_id.in_(ids)).values(recheck_at=until))

    def recheck_all(self, now: datetime) -> None:
        """Someone became available: every hold is due for a re-check."""
        with transaction(self.engine) as connection:
            connection.execute(sa.update(holds).values(recheck_at=now))
