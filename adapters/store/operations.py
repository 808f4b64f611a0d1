"""Read-only queries behind the operator commands: log history, a record's trace, daily figures, and what
``baton reconcile`` compares (each record's newest decided owner, bookings not finished)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from adapters.store.administration import dead_letter_of
from adapters.store.audit import audit_entry
from adapters.store.base import IN_CHUNK
from adapters.store.tables import (
    admin_audit,
    api_usage,
    assignments,
    bookings,
    config_versions,
    dead_letters,
    holds,
    outbox,
    record_states,
)
from kernel.ports.audit import AuditEntry
from kernel.ports.bookings import BookingRow
from kernel.ports.holds import HeldRecord
from kernel.ports.operations import (
    DeadLetter,
    Figures,
    LatestOwnerDecision,
    LogFilter,
    OwnerWriteState,
    RecordTrace,
    StoredRecordState,
)
from routing.graph import OWNER_FIELD

LATENCY_SAMPLE = 100_000
MEMBER_CHANGES = 200


def _member_changes(connection: Connection, logs: list[dict[str, Any]]) -> list[AuditEntry]:
    """The admin audit's newest entries (at most ``MEMBER_CHANGES``, returned oldest first) about the members the
    decisions skipped, made before the newest of them."""
    skipped = {skip["member_id"] for log in logs for skip in log.get("skipped") or [] if isinstance(skip, dict)}
    if not skipped or not logs:
        return []
    newest = max(datetime.fromisoformat(str(log["decided_at"])) for log in logs)
    rows = connection.execute(
        sa.select(admin_audit).where(admin_audit.c.member_id.in_(sorted(skipped)[:IN_CHUNK]),
                                     admin_audit.c.at <= newest)
        .order_by(admin_audit.c.at.desc(), admin_audit.c.id.desc()).limit(MEMBER_CHANGES))
    return [audit_entry(row) for row in reversed(rows.all())]


class OperationsReader:
    """The operator commands' queries over the whole store (logs, outbox, holds, dead letters, configs)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def history(self, since: datetime, filters: LogFilter, limit: int) -> list[dict[str, Any]]:
        query = sa.select(assignments.c.log).where(assignments.c.decided_at >= since)
        for wanted, column in ((filters.teams, assignments.c.team), (filters.objects, assignments.c.object_type),
                               (filters.outcomes, assignments.c.outcome), (filters.owners, assignments.c.owner_id)):
            if wanted:
                query = query.where(column.in_(list(wanted)))
        query = query.order_by(assignments.c.decided_at.desc(), assignments.c.routing_id.desc()).limit(limit)
        with self.engine.connect() as connection:
            rows = [row.log for row in connection.execute(query)]
        return rows[::-1]

    def record_trace(self, record_id: str) -> RecordTrace:
        matches = _record_id_matches(assignments.c.record_id, record_id)
        with self.engine.connect() as connection:
            logs = [row.log for row in connection.execute(
                sa.select(assignments.c.log).where(matches)
                .order_by(assignments.c.decided_at.desc(), assignments.c.routing_id.desc()))]
            routing_ids = [log["routing_id"] for log in logs]
            outbox_rows = {row.routing_id: OwnerWriteState(**_plain(row._mapping, drop=("id",)))
                           for row in connection.execute(sa.select(outbox).where(outbox.c.routing_id.in_(routing_ids)))
                           } if routing_ids else {}
            hold_rows = [HeldRecord(**_plain(row._mapping)) for row in connection.execute(
                sa.select(holds).where(_record_id_matches(holds.c.record_id, record_id)))]
            versions = {log["config_version"] for log in logs if log.get("config_version") is not None}
            configs = {row.version: row.applied_at for row in connection.execute(
                sa.select(config_versions.c.version, config_versions.c.applied_at)
                .where(config_versions.c.version.in_(versions)))} if versions else {}
            current = connection.execute(
                sa.select(record_states).where(_record_id_matches(record_states.c.record_id, record_id))
                .order_by(record_states.c.last_event_at.desc())).first()
            letters = connection.execute(
                sa.select(dead_letters).where(sa.cast(dead_letters.c.message, sa.Text).contains(record_id[:15]))
                .order_by(dead_letters.c.id.desc())).all()
            changes = _member_changes(connection, logs)
        touching = [dead_letter_of(row) for row in letters
                    if _mentions(row.message, record_id) or set(row.routing_ids) & set(routing_ids)]
        return RecordTrace(logs, outbox_rows, hold_rows, touching, configs,
                           StoredRecordState(**_plain(current._mapping)) if current else None, changes)

    def figures(self, since: datetime) -> Figures:
        figures = Figures(since=since)
        recent = assignments.c.decided_at >= since
        with self.engine.connect() as connection:
            for team, owner, count in connection.execute(
                sa.select(assignments.c.team, assignments.c.owner_id, sa.func.count())
                .where(recent, assignments.c.outcome == "assigned")
                .group_by(assignments.c.team, assignments.c.owner_id)):
                figures.per_member[(team, owner)] = int(count)
            figures.outcomes = _counts(connection, assignments.c.outcome, recent)
            figures.held_now = _counts(connection, holds.c.team)
            figures.dead_letters = _counts(connection, dead_letters.c.stage, dead_letters.c.failed_at >= since)
            figures.dead_letters_open = _counts(connection, dead_letters.c.stage, dead_letters.c.replayed_at.is_(None))
            figures.outbox = _counts(connection, outbox.c.status, outbox.c.created_at >= since)
            usage = connection.execute(sa.select(api_usage).where(api_usage.c.name == "api-usage")).first()
            if usage is not None:
                figures.api = (int(usage.used), int(usage.limit), usage.observed_at)
            figures.timings = [
                (row.decided_at, row.event_at, row.enqueued_at, row.trace)
                for row in connection.execute(
                    sa.select(assignments.c.decided_at, assignments.c.event_at,
                              assignments.c.log["enqueued_at"].as_string().label("enqueued_at"),
                              assignments.c.log["trace"].label("trace"))
                    .where(recent).order_by(assignments.c.decided_at.desc()).limit(LATENCY_SAMPLE))
            ]
        return figures

    def latest_owner_decisions(self, objects: Sequence[str] = (),
                               since: datetime | None = None) -> list[LatestOwnerDecision]:
        """Each record's newest decision that named an owner, with its outbox row's status and the status of the
        record's newest outbox row (one query: a window over the decisions, the newest row id per record)."""
        where = [assignments.c.outcome == "assigned", assignments.c.owner_id.is_not(None)]
        if objects:
            where.append(assignments.c.object_type.in_(list(objects)))
        if since is not None:
            where.append(assignments.c.decided_at >= since)
        ranked = sa.select(
            assignments.c.object_type, assignments.c.record_id, assignments.c.owner_id, assignments.c.routing_id,
            assignments.c.decided_at,
            sa.func.row_number().over(
                partition_by=(assignments.c.object_type, assignments.c.record_id),
                order_by=(assignments.c.decided_at.desc(), assignments.c.routing_id.desc())).label("newness"),
        ).where(*where).subquery("ranked")
        newest_ids = (sa.select(sa.func.max(outbox.c.id).label("id"), outbox.c.object_type, outbox.c.record_id)
                      .where(outbox.c.owner_field == OWNER_FIELD))
        if objects:
            newest_ids = newest_ids.where(outbox.c.object_type.in_(list(objects)))
        newest_id = newest_ids.group_by(outbox.c.object_type, outbox.c.record_id).subquery("newest_id")
        own, newest = outbox.alias("own_write"), outbox.alias("newest_write")
        query = (
            sa.select(ranked.c.object_type, ranked.c.record_id, ranked.c.owner_id, ranked.c.routing_id,
                      ranked.c.decided_at, own.c.status, newest.c.status)
            .select_from(
                ranked.outerjoin(own, own.c.routing_id == ranked.c.routing_id)
                .outerjoin(newest_id, sa.and_(newest_id.c.object_type == ranked.c.object_type,
                                              newest_id.c.record_id == ranked.c.record_id))
                .outerjoin(newest, newest.c.id == newest_id.c.id))
            .where(ranked.c.newness == 1)
            .order_by(ranked.c.object_type, ranked.c.record_id)
        )
        with self.engine.connect() as connection:
            return [LatestOwnerDecision(row[0], row[1], row[2], row[3], row[4], row[5], row[6])  # type: ignore[arg-type]
                    for row in connection.execute(query)]

    def unfinished_bookings(self, final_statuses: Collection[str], objects: Sequence[str] = (),
                            since: datetime | None = None) -> list[BookingRow]:
        query = sa.select(bookings).where(bookings.c.status.not_in(list(final_statuses)))
        if objects:
            query = query.where(bookings.c.object_type.in_(list(objects)))
        if since is not None:
            query = query.where(bookings.c.created_at >= since)
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(bookings.c.created_at, bookings.c.id))
            return [BookingRow(**_plain(row._mapping)) for row in rows]


def _record_id_matches(column: sa.ColumnElement[str], record_id: str) -> sa.ColumnElement[bool]:
    """An 18-character id matches itself; a 15-character one also its 18-character form."""
    if len(record_id) == 15:
        return sa.or_(column == record_id, column.like(record_id + "___"))
    return column == record_id


def _mentions(message: Any, record_id: str) -> bool:
    """Does a dead-lettered message carry this record (a routed record, a log, an outbox row's record ids)?"""
    if isinstance(message, str):
        return len(message) in (15, 18) and message[:15] == record_id[:15]
    if isinstance(message, dict):
        return any(_mentions(value, record_id) for value in message.values())
    if isinstance(message, list):
        return any(_mentions(value, record_id) for value in message)
    return False


def delivery_attempts(letter: DeadLetter) -> int | None:
    """How often a stage ran the message before it was dead-lettered; None for outbox rows (see ``why``)."""
    options = letter.message.get("options")
    return int(options.get("retries", 0)) + 1 if isinstance(options, dict) else None


def _counts(connection: sa.Connection, column: sa.ColumnElement[Any],
            where: sa.ColumnElement[bool] | None = None) -> dict[str, int]:
    query = sa.select(column, sa.func.count()).group_by(column)
    if where is not None:
        query = query.where(where)
    return {str(key): int(count) for key, count in connection.execute(query)}


def _plain(mapping: Any, drop: Sequence[str] = ()) -> dict[str, Any]:
    return {key: value for key, value in dict(mapping).items() if key not in drop}
