"""The outbox: owner writes waiting for Salesforce, as the flusher and the operator commands see them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.store.base import as_utc, chunks, transaction
from adapters.store.tables import outbox
from kernel.ports.outbox import WITHDRAWN, PendingWrite

_PENDING_COLUMNS = (outbox.c.routing_id, outbox.c.object_type, outbox.c.record_id, outbox.c.owner_id,
                    outbox.c.attempts, outbox.c.last_error)  # PendingWrite's fields, in its order


class SqlOutbox:
    """Pending, sent and failed owner writes in the ``outbox`` table."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def summary(self) -> dict[tuple[str, int], int]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(outbox.c.status, outbox.c.attempts, sa.func.count()).group_by(
                    outbox.c.status, outbox.c.attempts
                )
            )
            return {(row[0], int(row[1])): int(row[2]) for row in rows}

    def due(self, now: datetime, channel: str = "realtime", limit: int = 2000) -> list[PendingWrite]:
        query = (
            sa.select(*_PENDING_COLUMNS)
            .where(outbox.c.status == "pending", outbox.c.channel == channel,
                   sa.or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= now))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return [PendingWrite(*row) for row in connection.execute(query)]

    def mark(self, routing_ids: Iterable[str], status: str, now: datetime, error: str | None = None) -> None:
        ids = list(routing_ids)
        if not ids:
            return
        with transaction(self.engine) as connection:
            connection.execute(
                sa.update(outbox)
                .where(outbox.c.routing_id.in_(ids))
                .values(status=status, sent_at=now, last_error=error, attempts=outbox.c.attempts + 1,
                        next_attempt_at=None)
            )

    def note(self, routing_ids: Iterable[str], note: str) -> None:
        ids = list(routing_ids)
        if not ids:
            return
        with transaction(self.engine) as connection:
            connection.execute(sa.update(outbox).where(outbox.c.routing_id.in_(ids)).values(last_error=note))

    def defer(self, errors: Mapping[str, str], until: datetime) -> None:
        if not errors:
            return
        with transaction(self.engine) as connection:
            connection.execute(
                sa.update(outbox)
                .where(outbox.c.routing_id == sa.bindparam("rid"))
                .values(attempts=outbox.c.attempts + 1, last_error=sa.bindparam("error"), next_attempt_at=until),
                [{"rid": routing_id, "error": error} for routing_id, error in errors.items()],
            )

    def requeue(self, routing_ids: Iterable[str]) -> int:
        ids = list(routing_ids)
        if not ids:
            return 0
        with transaction(self.engine) as connection:
            result = connection.execute(
                sa.update(outbox)
                .where(outbox.c.routing_id.in_(ids), outbox.c.status == "failed")
                .values(status="pending", next_attempt_at=None)
            )
            return int(result.rowcount or 0)

    def withdraw(self, routing_ids: Iterable[str], reason: str) -> int:
        """Pending writes that must not be sent any more become ``withdrawn`` (with the reason); a write sent or
        failed already stays as it is. Returns how many were withdrawn."""
        ids = list(routing_ids)
        if not ids:
            return 0
        with transaction(self.engine) as connection:
            result = connection.execute(
                sa.update(outbox).where(outbox.c.routing_id.in_(ids), outbox.c.status == "pending")
                .values(status=WITHDRAWN, last_error=reason, next_attempt_at=None))
            return int(result.rowcount or 0)

    def statuses(self, routing_ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self.engine.connect() as connection:
            for chunk in chunks(routing_ids):
                rows = connection.execute(
                    sa.select(outbox.c.routing_id, outbox.c.status).where(outbox.c.routing_id.in_(chunk))
                )
                found.update({row.routing_id: row.status for row in rows})
        return found

    def next_attempt(self, channel: str) -> datetime | None:
        with self.engine.connect() as connection:
            value = connection.execute(
                sa.select(sa.func.min(outbox.c.next_attempt_at)).where(
                    outbox.c.status == "pending", outbox.c.channel == channel, outbox.c.next_attempt_at.is_not(None)
                )
            ).scalar()
        return as_utc(value)
