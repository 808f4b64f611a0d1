"""Baton's synced copy of Salesforce reference records (users, accounts, contacts, leads) and where each sync stands."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from adapters.store.base import StoreTransaction, transaction
from adapters.store.tables import SYNCED_TABLES, sf_accounts, sf_users, sync_positions
from kernel.ports.reference_sync import (
    SyncedAccount,
    SyncedContact,
    SyncedLead,
    SyncedRow,
    SyncedUser,
    SyncedWrite,
    SyncPosition,
)

ROW_TYPES: dict[str, type[SyncedRow]] = {"User": SyncedUser, "Account": SyncedAccount, "Contact": SyncedContact,
                                         "Lead": SyncedLead}


class SyncTransaction(StoreTransaction):
    """A sync pass's writes, inside one transaction."""

    def upsert_synced(self, object_type: str, rows: Sequence[SyncedWrite], *, newer_only: bool) -> None:
        """Rows may hold only some columns (an event names the fields it carries); rows with the same
        columns share a statement."""
        table = SYNCED_TABLES[object_type]
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            values = {**row.columns, "id": row.id, "system_modstamp": row.system_modstamp,
                      "written_at": row.written_at}
            groups.setdefault(tuple(sorted(values)), []).append(values)
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        for columns, group in groups.items():
            statement = insert(table)
            stored, incoming = table.c.system_modstamp, statement.excluded.system_modstamp
            changed = [column for column in columns if column not in ("id", "written_at")]
            if newer_only:
                statement = statement.on_conflict_do_update(
                    index_elements=[table.c.id],
                    set_={column: statement.excluded[column] for column in [*changed, "written_at"]},
                    where=stored < incoming,
                )
            else:
                statement = statement.on_conflict_do_update(
                    index_elements=[table.c.id],
                    set_={"written_at": statement.excluded.written_at,
                          **{column: sa.case((stored <= incoming, statement.excluded[column]), else_=table.c[column])
                             for column in changed}},
                )
            self.connection.execute(statement, group)

    def sweep_synced(self, object_type: str, before: datetime, modified_until: datetime) -> int:
        """Rows modified after ``modified_until`` (the pass's upper bound) were never asked for; they stay."""
        table = SYNCED_TABLES[object_type]
        return self.connection.execute(
            sa.delete(table).where(table.c.written_at < before, table.c.system_modstamp <= modified_until)
        ).rowcount

    def save_sync_position(self, position: SyncPosition, now: datetime) -> None:
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        values = {"object_type": position.object_type, "last_modstamp": position.last_modstamp,
                  "last_id": position.last_id, "sweep_before": position.sweep_before, "synced_at": now}
        statement = insert(sync_positions).values(**values)
        self.connection.execute(statement.on_conflict_do_update(
            index_elements=[sync_positions.c.object_type],
            set_={key: value for key, value in values.items() if key != "object_type"},
        ))


class SqlReferenceSync:
    """The synced copy: one table per object, and ``sync_positions``."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @contextmanager
    def writes(self) -> Iterator[SyncTransaction]:
        with transaction(self.engine) as connection:
            yield SyncTransaction(connection)

    def position(self, object_type: str) -> SyncPosition | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(sync_positions).where(sync_positions.c.object_type == object_type)
            ).first()
        if row is None:
            return None
        return SyncPosition(object_type, row.last_modstamp, row.last_id, row.sweep_before)

    def rows(self, object_type: str, written_since: datetime | None = None) -> list[Any]:
        table = SYNCED_TABLES[object_type]
        source: sa.FromClause = table
        extra: list[sa.ColumnElement[Any]] = []
        if object_type == "Account":
            source = table.outerjoin(sf_users, sf_users.c.id == table.c.owner_id)
            extra = [sf_users.c.is_active.label("owner_is_active")]
        elif object_type == "Contact":
            source = table.outerjoin(sf_accounts, sf_accounts.c.id == table.c.account_id)
            extra = [sf_accounts.c.name.label("account_name")]
        query = sa.select(table, *extra).select_from(source)
        if written_since is None:
            query = query.where(table.c.removed_reason.is_(None))
        else:
            query = query.where(table.c.written_at >= written_since)
        row_type = ROW_TYPES[object_type]
        with self.engine.connect() as connection:
            return [row_type(**row._mapping) for row in connection.execute(query)]

    def row(self, object_type: str, record_id: str) -> Any:
        table = SYNCED_TABLES[object_type]
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(table).where(table.c.id == record_id)).first()
        return ROW_TYPES[object_type](**row._mapping) if row else None

    def stamp(self, object_types: Sequence[str]) -> tuple[Any, ...]:
        parts: list[sa.ScalarSelect[Any]] = []
        for object_type in object_types:
            table = SYNCED_TABLES[object_type]
            parts.append(sa.select(sa.func.max(table.c.written_at)).scalar_subquery())
            parts.append(sa.select(sync_positions.c.synced_at)
                         .where(sync_positions.c.object_type == object_type).scalar_subquery())
        with self.engine.connect() as connection:
            return tuple(connection.execute(sa.select(*parts)).one())
