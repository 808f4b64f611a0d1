"""The admin audit in SQL (``kernel.ports.audit``): one row per change made through the admin API or
``baton member``, read back newest first by ``GET /v1/audit`` and by ``baton why`` for a skipped member."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.store.base import chunks, transaction
from adapters.store.tables import admin_audit
from kernel.ports.audit import Actor, AuditEntry


def audit_entry(row: Any) -> AuditEntry:
    return AuditEntry(at=row.at, actor=Actor(row.actor_id, row.actor_name), action=row.action,
                      member_id=row.member_id, team=row.team, reason=row.reason, before=row.before,
                      after=row.after, config_version=row.config_version, id=row.id)


class SqlAudit:
    """The admin audit over one engine."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def record(self, entry: AuditEntry) -> AuditEntry:
        with transaction(self.engine) as connection:
            new_id = connection.execute(sa.insert(admin_audit).values(
                at=entry.at, actor_id=entry.actor.id, actor_name=entry.actor.name, action=entry.action,
                member_id=entry.member_id, team=entry.team, reason=entry.reason, before=entry.before,
                after=entry.after, config_version=entry.config_version,
            ).returning(admin_audit.c.id)).scalar_one()
        return AuditEntry(entry.at, entry.actor, entry.action, entry.member_id, entry.team, entry.reason,
                          entry.before, entry.after, entry.config_version, int(new_id))

    def entries(self, member_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        query = sa.select(admin_audit).order_by(admin_audit.c.at.desc(), admin_audit.c.id.desc()).limit(limit)
        if member_id is not None:
            query = query.where(admin_audit.c.member_id == member_id)
        with self.engine.connect() as connection:
            return [audit_entry(row) for row in connection.execute(query)]

    def latest_before(self, member_ids: Collection[str], before: datetime) -> dict[str, AuditEntry]:
        found: dict[str, AuditEntry] = {}
        with self.engine.connect() as connection:
            for chunk in chunks(sorted(set(member_ids))):
                rows = connection.execute(
                    sa.select(admin_audit).where(admin_audit.c.member_id.in_(chunk), admin_audit.c.at <= before)
                    .order_by(admin_audit.c.at.asc(), admin_audit.c.id.asc()))
                found.update({row.member_id: audit_entry(row) for row in rows})
        return found
