"""The outbox: owner writes waiting for Salesforce, as the flusher and the operator commands see them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.store.base import as_utc, chunks
from adapters.store.tables import outbox


class OutboxRows:
    """Pending, sent and failed owner writes (mixed into Store)."""

    engine: Engine

    transaction: Callable[[], AbstractContextManager[Any]]

    def outbox_summary(self) -> dict[tuple[str, int], int]:
        """How many outbox rows sit at each (status, attempts): a record written once shows attempts 1."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(outbox.c.status, outbox.c.attempts, sa.func.count()).group_by(
                    outbox.c.status, outbox.c.attempts
                )
            )
            return {(row[0], int(row[1])): int(row[2]) for row in rows}

    def due_outbox(self, now: datetime, channel: str = "realtime", limit: int = 2000) -> list[dict[str, Any]]:
        """Pending owner writes of a channel whose next attempt is due, oldest first."""
        query = (
            sa.select(outbox)
            .where(outbox.c.status == "pending", outbox.c.channel == channel,
                   sa.or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= now))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            result = connection.execute(query)
            names = list(result.keys())  # once, not per row: a batch job's round is 100,000 rows
            return [dict(zip(names, row, strict=True)) for row in result]

    def mark_outbox(self, routing_ids: Iterable[str], status: str, now: datetime, error: str | None = None) -> None:
        """A finished write attempt: sent, rejected by Salesforce, not configured, or failed for good."""
        ids = list(routing_ids)
        if not ids:
            return
        with self.transaction() as tx:
            tx.connection.execute(
                sa.update(outbox)
                .where(outbox.c.routing_id.in_(ids))
                .values(status=status, sent_at=now, last_error=error, attempts=outbox.c.attempts + 1,
                        next_attempt_at=None)
            )

    def note_outbox_error(self, routing_ids: Iterable[str], note: str) -> None:
        """Notes why rows are where they are (e.g. a write in flight) without counting an attempt."""
        ids = list(routing_ids)
        if not ids:
            return
        with self.transaction() as tx:
            tx.connection.execute(sa.update(outbox).where(outbox.c.routing_id.in_(ids)).values(last_error=note))

    def defer_outbox(self, errors: dict[str, str], until: datetime) -> None:
        """Writes that will be retried: count the attempt, keep the error, try again at ``until``."""
        if not errors:
            return
        with self.transaction() as tx:
            tx.connection.execute(
                sa.update(outbox)
                .where(outbox.c.routing_id == sa.bindparam("rid"))
                .values(attempts=outbox.c.attempts + 1, last_error=sa.bindparam("error"), next_attempt_at=until),
                [{"rid": routing_id, "error": error} for routing_id, error in errors.items()],
            )

    def requeue_outbox(self, routing_ids: Iterable[str]) -> int:
        """Failed writes back to pending (a replayed dead letter); returns how many."""
        ids = list(routing_ids)
        if not ids:
            return 0
        with self.transaction() as tx:
            result = tx.connection.execute(
                sa.update(outbox)
                .where(outbox.c.routing_id.in_(ids), outbox.c.status == "failed")
                .values(status="pending", next_attempt_at=None)
            )
            return int(result.rowcount or 0)

    def outbox_statuses(self, routing_ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self.engine.connect() as connection:
            for chunk in chunks(routing_ids):
                rows = connection.execute(
                    sa.select(outbox.c.routing_id, outbox.c.status).where(outbox.c.routing_id.in_(chunk))
                )
                found.update({row.routing_id: row.status for row in rows})
        return found

    def next_outbox_attempt(self, channel: str) -> datetime | None:
        """When the earliest pending row of a channel that waits for a retry is due; None if none waits."""
        with self.engine.connect() as connection:
            value = connection.execute(
                sa.select(sa.func.min(outbox.c.next_attempt_at)).where(
                    outbox.c.status == "pending", outbox.c.channel == channel, outbox.c.next_attempt_at.is_not(None)
                )
            ).scalar()
        return as_utc(value)

