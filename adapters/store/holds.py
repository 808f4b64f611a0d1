"""Held records: decisions waiting for someone to become available, with when each is re-checked."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.store.base import as_utc
from adapters.store.tables import holds


class HeldRecords:
    """Held records outside the assign stage's transaction (mixed into Store)."""

    engine: Engine

    transaction: Callable[[], AbstractContextManager[Any]]

    def held_records(self, due_at: datetime | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Held records, oldest first; only those due for a re-check when ``due_at`` is given."""
        query = sa.select(holds).order_by(holds.c.recheck_at, holds.c.routing_id)
        if due_at is not None:
            query = query.where(holds.c.recheck_at <= due_at)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            rows = [dict(row._mapping) for row in connection.execute(query)]
        for row in rows:
            row["held_at"], row["recheck_at"] = as_utc(row["held_at"]), as_utc(row["recheck_at"])
        return rows

    def postpone_holds(self, routing_ids: Iterable[str], until: datetime) -> None:
        ids = list(routing_ids)
        if ids:
            with self.transaction() as tx:
                tx.connection.execute(sa.update(holds).where(holds.c.routing_id.in_(ids)).values(recheck_at=until))

    def recheck_holds_now(self, now: datetime) -> None:
        """Someone became available: every hold is due for a re-check."""
        with self.transaction() as tx:
            tx.connection.execute(sa.update(holds).values(recheck_at=now))

