"""What operators keep in the store: config versions, dead letters, API usage, stream positions and reassign jobs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from adapters.store.base import transaction
from adapters.store.tables import (
    api_usage,
    config_versions,
    dead_letters,
    reassign_jobs,
    stream_positions,
)
from kernel.ports.operations import (
    ApiUsage,
    DeadLetter,
    NewDeadLetter,
    ReassignJob,
    StoredConfig,
    StreamPosition,
)

DEAD_LETTER_LOCK_NAMESPACE = 0x0D1E  # pg_advisory_xact_lock(namespace, hashtext(message_id)) around a once-only add


class SqlAdministration:
    """Operator-facing records, one table each."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def latest_config(self) -> StoredConfig | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(config_versions).order_by(config_versions.c.version.desc()).limit(1)
            ).first()
        return _stored_config(row) if row else None

    def config(self, version: int) -> StoredConfig | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(config_versions).where(config_versions.c.version == version)
            ).first()
        return _stored_config(row) if row else None

    def save_config(self, body: str, digest: str, now: datetime) -> tuple[int, bool]:
        """Store a validated config; returns (version, created). The same text as the newest is a no-op."""
        with transaction(self.engine) as connection:
            latest = connection.execute(
                sa.select(config_versions.c.version, config_versions.c.digest)
                .order_by(config_versions.c.version.desc())
                .limit(1)
            ).first()
            if latest and latest.digest == digest:
                return latest.version, False
            result = connection.execute(
                sa.insert(config_versions).values(digest=digest, body=body, applied_at=now)
            )
            return int(result.inserted_primary_key[0]), True

    def save_api_usage(self, used: int, limit: int, now: datetime, name: str = "api-usage") -> None:
        with transaction(self.engine) as connection:
            insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
            statement = insert(api_usage).values(name=name, used=used, limit=limit, observed_at=now)
            connection.execute(statement.on_conflict_do_update(
                index_elements=[api_usage.c.name], set_={"used": used, "limit": limit, "observed_at": now},
            ))

    def api_usage(self, name: str = "api-usage") -> ApiUsage | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(api_usage).where(api_usage.c.name == name)).first()
        return ApiUsage(row.used, row.limit, row.observed_at) if row else None

    def add_dead_letter(self, letter: NewDeadLetter) -> int:
        with transaction(self.engine) as connection:
            result = connection.execute(sa.insert(dead_letters).values(**_columns(letter)))
            return int(result.inserted_primary_key[0])

    def add_dead_letter_once(self, letter: NewDeadLetter) -> tuple[int, bool]:
        with transaction(self.engine) as connection:
            if connection.dialect.name == "postgresql":  # SQLite: BEGIN IMMEDIATE already serialises writers
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(
                    DEAD_LETTER_LOCK_NAMESPACE, sa.func.hashtext(letter.message_id))))
            stored = connection.execute(
                sa.select(dead_letters.c.id).where(dead_letters.c.message_id == letter.message_id)
                .order_by(dead_letters.c.id).limit(1)
            ).scalar()
            if stored is not None:
                return int(stored), False
            result = connection.execute(sa.insert(dead_letters).values(**_columns(letter)))
            return int(result.inserted_primary_key[0]), True

    def dead_letters(self, stage: str | None = None, include_replayed: bool = False) -> list[DeadLetter]:
        query = sa.select(dead_letters).order_by(dead_letters.c.id)
        if stage:
            query = query.where(dead_letters.c.stage == stage)
        if not include_replayed:
            query = query.where(dead_letters.c.replayed_at.is_(None))
        with self.engine.connect() as connection:
            return [dead_letter_of(row) for row in connection.execute(query)]

    def dead_letter(self, letter_id: int) -> DeadLetter | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(dead_letters).where(dead_letters.c.id == letter_id)).first()
        return dead_letter_of(row) if row else None

    def mark_replayed(self, letter_id: int, now: datetime) -> None:
        with transaction(self.engine) as connection:
            connection.execute(
                sa.update(dead_letters)
                .where(dead_letters.c.id == letter_id)
                .values(replayed_at=now, replay_count=dead_letters.c.replay_count + 1)
            )

    def stream_position(self, channel: str) -> StreamPosition | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(stream_positions).where(stream_positions.c.channel == channel)).first()
        if row is None:
            return None
        return StreamPosition(row.channel, row.replay_id, row.event_at, row.updated_at)

    def save_stream_position(self, channel: str, replay_id: int | None, event_at: datetime | None,
                             now: datetime) -> None:
        """Call only once the events up to ``replay_id`` are enqueued (the broker confirmed them)."""
        values = {"channel": channel, "replay_id": replay_id, "event_at": event_at, "updated_at": now}
        with transaction(self.engine) as connection:
            insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
            statement = insert(stream_positions).values(**values)
            connection.execute(statement.on_conflict_do_update(
                index_elements=[stream_positions.c.channel],
                set_={"replay_id": replay_id, "event_at": event_at, "updated_at": now},
            ))

    def add_reassign_job(self, job: ReassignJob) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.insert(reassign_jobs).values(**_columns(job)))

    def reassign_job(self, job_id: str) -> ReassignJob | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(reassign_jobs).where(reassign_jobs.c.id == job_id)).first()
        if row is None:
            return None
        return ReassignJob(**row._mapping)

    def set_reassign_job_state(self, job_id: str, state: str, now: datetime, *, error: str | None = None,
                               counts: Mapping[str, int] | None = None) -> None:
        values: dict[str, Any] = {"state": state, "error": error}
        if counts is not None:
            values["counts"] = dict(counts)
        self._update_reassign_job(job_id, now, values)

    def set_reassign_job_query(self, job_id: str, bulk_query_job_id: str, now: datetime) -> None:
        self._update_reassign_job(job_id, now, {"bulk_query_job_id": bulk_query_job_id})

    def _update_reassign_job(self, job_id: str, now: datetime, values: dict[str, Any]) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(reassign_jobs).where(reassign_jobs.c.id == job_id).values(updated_at=now, **values)
            )


def _columns(row: NewDeadLetter | ReassignJob) -> dict[str, Any]:
    """A typed row's fields as column values (shallow: ``asdict`` would copy every nested value)."""
    return {column.name: getattr(row, column.name) for column in fields(row)}


def _stored_config(row: Any) -> StoredConfig:
    return StoredConfig(row.version, row.body, row.digest, row.applied_at)


def dead_letter_of(row: Any) -> DeadLetter:
    return DeadLetter(
        id=row.id,
        message_id=row.message_id,
        queue_name=row.queue_name,
        actor_name=row.actor_name,
        stage=row.stage,
        routing_ids=list(row.routing_ids),
        message=dict(row.message),
        reason=row.reason,
        failed_at=row.failed_at,
        replayed_at=row.replayed_at,
        replay_count=row.replay_count,
    )

