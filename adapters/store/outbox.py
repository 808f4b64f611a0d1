"""The outbox: owner writes waiting for Salesforce, as the flusher and the operator commands see them.

Every change of a row is a transition of ``routing.lifecycles.outbox.OUTBOX`` applied as a compare-and-set: the
statement matches the row's routing id, the ``version`` it was read at and a status the transition may leave,
and bumps the version. A row changed in between is not matched, which is a lost race, not an error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from adapters.store.base import IN_CHUNK, chunks, pairs_in, transaction
from adapters.store.row_values import row_values
from adapters.store.tables import outbox, record_states
from kernel.ports.decisions import OwnerWrite
from kernel.ports.outbox import Backlog, FactsWrite, PendingWrite, Retry
from routing.graph import OWNER_FIELD
from routing.lifecycles.outbox import OUTBOX, SUPERSEDING, OutboxStatus

PENDING = OutboxStatus.PENDING
_PENDING_COLUMNS = (outbox.c.routing_id, outbox.c.object_type, outbox.c.record_id, outbox.c.owner_id,
                    outbox.c.attempts, outbox.c.last_error, outbox.c.sequence, outbox.c.version,
                    outbox.c.created_at, outbox.c.retrying_since, outbox.c.fields,
                    outbox.c.owner_field)  # PendingWrite's fields, in its order
ROWS_PER_STATEMENT = 1_000
_newer = outbox.alias("newer")


def _pending_write(row: sa.Row[Any]) -> PendingWrite:
    values = row._mapping
    return PendingWrite(values["routing_id"], values["object_type"], values["record_id"], values["owner_id"],
                        values["attempts"], values["last_error"], values["sequence"], values["version"],
                        values["created_at"], values["retrying_since"], values["fields"], values["owner_field"])


def _batches(rows: Sequence[PendingWrite]) -> Iterator[Sequence[PendingWrite]]:
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        yield rows[start : start + ROWS_PER_STATEMENT]


def _as_read(rows: Sequence[PendingWrite], to: OutboxStatus) -> sa.ColumnElement[bool]:
    """The compare-and-set: each row still at the version it was read at, in a status ``to`` may follow."""
    return sa.and_(pairs_in(outbox.c.version, outbox.c.routing_id, ((row.version, row.routing_id) for row in rows)),
                   outbox.c.status.in_([str(status) for status in OUTBOX.sources(to)]))


def _newer_live_write() -> sa.Select[Any]:
    """The record's writes of the same field numbered after this row's that are pending or written: the newest
    first."""
    return (sa.select(_newer.c.routing_id)
            .where(_newer.c.object_type == outbox.c.object_type, _newer.c.record_id == outbox.c.record_id,
                   _newer.c.owner_field == outbox.c.owner_field,
                   _newer.c.sequence > outbox.c.sequence, _newer.c.status.in_([str(s) for s in SUPERSEDING]))
            .order_by(_newer.c.sequence.desc()).limit(1))


class SqlOutbox:
    """Pending, sent, failed and superseded owner writes in the ``outbox`` table."""

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
            .where(outbox.c.status == PENDING, outbox.c.channel == channel,
                   sa.or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= now))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return [_pending_write(row) for row in connection.execute(query)]

    def supersede(self, rows: Sequence[PendingWrite], now: datetime) -> list[PendingWrite]:
        newer = _newer_live_write()
        superseded: set[str] = set()
        with transaction(self.engine) as connection:
            for batch in _batches(rows):
                statement = (
                    sa.update(outbox)
                    .where(_as_read(batch, OutboxStatus.SUPERSEDED), newer.exists())
                    .values(status=OutboxStatus.SUPERSEDED.value, superseded_by=newer.scalar_subquery(),
                            sent_at=now, next_attempt_at=None, version=outbox.c.version + 1)
                    .returning(outbox.c.routing_id)
                )
                superseded.update(connection.execute(statement).scalars())
        return [row for row in rows if row.routing_id not in superseded]

    def claim(self, rows: Sequence[PendingWrite], note: str) -> list[PendingWrite]:
        claimed: set[str] = set()
        with transaction(self.engine) as connection:
            for batch in _batches(rows):
                claimed.update(connection.execute(
                    sa.update(outbox).where(_as_read(batch, PENDING))
                    .values(last_error=note, version=outbox.c.version + 1)
                    .returning(outbox.c.routing_id)).scalars())
        return [dataclasses.replace(row, last_error=note, version=row.version + 1)
                for row in rows if row.routing_id in claimed]

    def mark(self, rows: Sequence[PendingWrite], status: str, now: datetime, error: str | None = None) -> list[str]:
        to = OutboxStatus(status)
        OUTBOX.check(PENDING, to)
        marked: list[str] = []
        with transaction(self.engine) as connection:
            for batch in _batches(rows):
                marked.extend(connection.execute(
                    sa.update(outbox).where(_as_read(batch, to))
                    .values(status=to.value, sent_at=now, last_error=error, attempts=outbox.c.attempts + 1,
                            next_attempt_at=None, version=outbox.c.version + 1)
                    .returning(outbox.c.routing_id)).scalars())
        return marked

    def defer(self, retries: Sequence[Retry], now: datetime) -> None:
        if not retries:
            return
        with transaction(self.engine) as connection:
            connection.execute(
                sa.update(outbox)
                .where(outbox.c.routing_id == sa.bindparam("rid"), outbox.c.version == sa.bindparam("read_version"),
                       outbox.c.status == PENDING)
                .values(attempts=outbox.c.attempts + 1, last_error=sa.bindparam("error"),
                        next_attempt_at=sa.bindparam("until"),
                        retrying_since=sa.func.coalesce(outbox.c.retrying_since, now),
                        version=outbox.c.version + 1),
                [{"rid": retry.row.routing_id, "read_version": retry.row.version, "error": retry.error,
                  "until": retry.until} for retry in retries],
            )

    def requeue(self, routing_ids: Iterable[str]) -> int:
        ids = list(routing_ids)
        if not ids:
            return 0
        OUTBOX.check(OutboxStatus.FAILED, PENDING)
        with transaction(self.engine) as connection:
            result = connection.execute(
                sa.update(outbox)
                .where(outbox.c.routing_id.in_(ids), outbox.c.status == OutboxStatus.FAILED)
                .values(status=PENDING.value, next_attempt_at=None, retrying_since=None,
                        version=outbox.c.version + 1)
            )
            return int(result.rowcount or 0)

    def resend(self, writes: Sequence[OwnerWrite], note: str) -> list[OwnerWrite]:
        """Each write queued again as its record's newest (numbered after its last), unless the record's newest
        write is still pending; returns those queued."""
        queued: list[OwnerWrite] = []
        with transaction(self.engine) as connection:
            for start in range(0, len(writes), IN_CHUNK):
                chunk = writes[start : start + IN_CHUNK]
                newest = _newest_writes(connection, {(write.object_type, write.record_id) for write in chunk})
                fresh = [write for write in chunk
                         if newest.get((write.object_type, write.record_id), (0, None))[1] != PENDING]
                if fresh:
                    connection.execute(sa.insert(outbox), [
                        {**row_values(write), "sequence": newest.get((write.object_type, write.record_id), (0, None))[0] + 1,
                         "attempts": 0, "version": 0, "status": PENDING.value, "last_error": note}
                        for write in fresh])
                queued.extend(fresh)
        return queued

    def queue_facts(self, writes: Sequence[FactsWrite]) -> list[str]:
        """Each write carries its decision's other facts too (those of the decision's own row), so superseding
        that row, still pending, loses none of them."""
        if not writes:
            return []
        with transaction(self.engine) as connection:
            decided: dict[str, dict[str, Any]] = {}
            for chunk in chunks([write.decision_routing_id for write in writes]):
                decided.update({row.routing_id: row.fields or {} for row in connection.execute(
                    sa.select(outbox.c.routing_id, outbox.c.fields).where(outbox.c.routing_id.in_(chunk)))})
            rows = [dataclasses.replace(write.write, fields={**decided.get(write.decision_routing_id, {}),
                                                             **(write.write.fields or {})}) for write in writes]
            return queue_owner_writes(connection, rows,
                                      {write.write.routing_id: write.decision_routing_id for write in writes})

    def withdraw(self, routing_ids: Iterable[str], reason: str) -> int:
        """Pending writes that must not be sent any more become ``withdrawn`` (with the reason); a write sent or
        failed already stays as it is. Returns how many were withdrawn."""
        OUTBOX.check(PENDING, OutboxStatus.WITHDRAWN)
        withdrawn = 0
        with transaction(self.engine) as connection:
            for chunk in chunks(list(routing_ids)):
                result = connection.execute(
                    sa.update(outbox).where(outbox.c.routing_id.in_(chunk), outbox.c.status == PENDING)
                    .values(status=OutboxStatus.WITHDRAWN.value, last_error=reason, next_attempt_at=None,
                            version=outbox.c.version + 1))
                withdrawn += int(result.rowcount or 0)
        return withdrawn

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
                    outbox.c.status == PENDING, outbox.c.channel == channel, outbox.c.next_attempt_at.is_not(None)
                )
            ).scalar()
        return value

    def backlog(self) -> dict[str, Backlog]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(outbox.c.channel, sa.func.count(), sa.func.min(outbox.c.created_at))
                .where(outbox.c.status == PENDING).group_by(outbox.c.channel))
            return {channel: Backlog(int(count), oldest) for channel, count, oldest in rows}


def queue_owner_writes(connection: Connection, rows: Sequence[OwnerWrite],
                       decisions: Mapping[str, str] | None = None) -> list[str]:
    """New owner writes, each numbered after its record's last one. A write whose decision is not its record's
    newest (its record state went to a newer event, in this transaction or a concurrent one that committed
    first) is stored ``superseded``: it must never be sent. A write's decision is its own routing id, or the
    one ``decisions`` gives for it (a facts-only write). A write to another user field than OwnerId (a booking's
    host field) has no record state to lose to: it is stored pending, and a newer write of the same field
    supersedes it when the flusher comes to it. Two transactions numbering the same record at once
    collide on the unique (record, sequence) index; the later one fails and is retried. Returns the routing
    ids stored pending."""
    if not rows:
        return []
    decisions = decisions or {}
    keys = sorted({(row.object_type, row.record_id) for row in rows})
    latest: dict[tuple[str, str], int] = {}
    newest: dict[tuple[str, str], str] = {}
    for start in range(0, len(keys), IN_CHUNK):
        chunk = keys[start : start + IN_CHUNK]
        latest.update({(row.object_type, row.record_id): int(row.last) for row in connection.execute(
            sa.select(outbox.c.object_type, outbox.c.record_id, sa.func.max(outbox.c.sequence).label("last"))
            .where(pairs_in(outbox.c.object_type, outbox.c.record_id, chunk))
            .group_by(outbox.c.object_type, outbox.c.record_id))})
        newest.update({(row.object_type, row.record_id): row.routing_id for row in connection.execute(
            sa.select(record_states.c.object_type, record_states.c.record_id, record_states.c.routing_id)
            .where(pairs_in(record_states.c.object_type, record_states.c.record_id, chunk)))})
    values: list[dict[str, Any]] = []
    for row in rows:
        key = (row.object_type, row.record_id)
        latest[key] = latest.get(key, 0) + 1
        decision = decisions.get(row.routing_id, row.routing_id)
        winner = newest.get(key, decision) if row.owner_field == OWNER_FIELD else decision
        values.append({**row_values(row), "sequence": latest[key], "attempts": 0, "version": 0,
                       "status": (PENDING if winner == decision else OutboxStatus.SUPERSEDED).value,
                       "superseded_by": None if winner == decision else winner})
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    stored = connection.execute(insert(outbox).on_conflict_do_nothing(index_elements=[outbox.c.routing_id])
                                .returning(outbox.c.routing_id, outbox.c.status), values).all()
    return [row.routing_id for row in stored if row.status == PENDING]


def _newest_writes(connection: Connection, keys: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, str]]:
    """(sequence, status) of each record's newest write."""
    last = (sa.select(outbox.c.object_type, outbox.c.record_id, sa.func.max(outbox.c.sequence).label("sequence"))
            .where(pairs_in(outbox.c.object_type, outbox.c.record_id, keys))
            .group_by(outbox.c.object_type, outbox.c.record_id).subquery())
    rows = connection.execute(
        sa.select(outbox.c.object_type, outbox.c.record_id, outbox.c.sequence, outbox.c.status)
        .join(last, sa.and_(outbox.c.object_type == last.c.object_type, outbox.c.record_id == last.c.record_id,
                            outbox.c.sequence == last.c.sequence)))
    return {(row.object_type, row.record_id): (int(row.sequence), row.status) for row in rows}
