"""Baton's synced copy of Salesforce reference records (users, accounts, contacts, leads) and where each sync stands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from adapters.store.base import StoreTransaction, as_utc
from adapters.store.tables import SYNCED_TABLES, sf_accounts, sf_users, sync_positions


@dataclass(frozen=True)
class SyncPosition:
    """Where an object's sync stands: the last (SystemModstamp, Id) written, and a pending full-sync sweep."""

    object_type: str
    last_modstamp: datetime | None = None
    last_id: str | None = None
    sweep_before: datetime | None = None


class SyncTransaction(StoreTransaction):
    """A sync pass's writes, inside one transaction."""

    def upsert_synced(self, object_type: str, rows: Sequence[dict[str, Any]], *, newer_only: bool) -> None:
        """Writes rows of Baton's copy of ``object_type``, never over a newer version (by SystemModstamp).

        Change events pass ``newer_only=True``: a row is written only over an older one. The sync
        passes False: an equal version is rewritten too, and ``written_at`` is refreshed even when a
        newer version is kept, so a full sync marks every record it saw. Rows may hold only some
        columns (an event names the fields it carries); rows with the same columns share a statement.
        """
        table = SYNCED_TABLES[object_type]
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(sorted(row)), []).append(row)
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
        """Drops rows a full sync did not rewrite: gone from Salesforce (beyond the recycle bin).

        Rows modified after ``modified_until`` (the pass's upper bound) were never asked for; they stay.
        """
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


class SyncedReads:
    """Reads of the synced copy (mixed into Store)."""

    engine: Engine

    def sync_position(self, object_type: str) -> SyncPosition | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(sync_positions).where(sync_positions.c.object_type == object_type)
            ).first()
        if row is None:
            return None
        return SyncPosition(object_type, as_utc(row.last_modstamp), row.last_id, as_utc(row.sweep_before))

    def synced_rows(self, object_type: str, written_since: datetime | None = None) -> list[dict[str, Any]]:
        """Live rows of one synced object; accounts carry ``owner_is_active``, contacts ``account_name``.
        With ``written_since``: every row written since then, removed ones too (their ``removed_reason`` says)."""
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
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def synced_row(self, object_type: str, record_id: str) -> dict[str, Any] | None:
        """One row of the copy, live or removed (its ``removed_reason`` says)."""
        table = SYNCED_TABLES[object_type]
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(table).where(table.c.id == record_id)).first()
        return dict(row._mapping) if row else None

    def synced_stamp(self, object_types: Sequence[str]) -> tuple[Any, ...]:
        """Changes whenever any of these copies is written or swept: one cheap query to poll."""
        parts: list[sa.ScalarSelect[Any]] = []
        for object_type in object_types:
            table = SYNCED_TABLES[object_type]
            parts.append(sa.select(sa.func.max(table.c.written_at)).scalar_subquery())
            parts.append(sa.select(sync_positions.c.synced_at)
                         .where(sync_positions.c.object_type == object_type).scalar_subquery())
        with self.engine.connect() as connection:
            return tuple(connection.execute(sa.select(*parts)).one())

