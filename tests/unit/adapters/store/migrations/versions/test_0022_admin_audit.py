"""Migration 0021 (SQLite and PostgreSQL): a store at the revision before it gets the empty ``admin_audit``
table the audit repository writes and reads; downgrading drops it again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.store import Store
from kernel.ports.audit import Actor, AuditEntry
from tests.support.migrations import empty_store, migrate

BEFORE = "0021_outbox_owner_field"
THIS = "0022_admin_audit"
AT = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, str | None]]:
    engine, schema = empty_store(request, tmp_path)
    migrate(engine, schema, BEFORE)
    yield engine, schema
    engine.dispose()


def test_the_audit_table_is_added_empty_and_dropped_on_downgrade(old_store: tuple[Engine, str | None]) -> None:
    engine, schema = old_store
    migrate(engine, schema, THIS)
    store = Store(engine)

    assert store.audit.entries() == []
    recorded = store.audit.record(AuditEntry(AT, Actor("tok", "ops"), "set_tags", "005A", after={"Inbound": ["x"]}))
    assert store.audit.entries() == [recorded]

    migrate(engine, schema, BEFORE, down=True)
    assert "admin_audit" not in sa.inspect(engine).get_table_names(schema=schema)
