"""Per-record lookups by a two-column key search the key's index on SQLite (a row-value IN list made SQLite scan
the whole table on every assign round, so a 100,000-record job slowed down as the table grew)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.store import Store, make_engine, upgrade_schema
from adapters.store.base import pairs_in
from adapters.store.tables import record_states, sticky_owners
from kernel.ports.decisions import RecordStateUpdate


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'baton.sqlite3'}")
    upgrade_schema(engine)
    yield engine
    engine.dispose()


def plan(engine: sa.Engine, query: sa.Select[tuple[object, ...]]) -> str:
    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as connection:
        return " | ".join(row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))


@pytest.mark.parametrize(("table", "first", "second"), [
    (record_states, "object_type", "record_id"), (sticky_owners, "team", "sticky_key"),
])
def test_a_lookup_by_key_pairs_searches_the_index(engine: sa.Engine, table: sa.Table, first: str,
                                                  second: str) -> None:
    pairs = [("Lead", "00Q000000000001AAA"), ("Lead", "00Q000000000002AAA"), ("Contact", "003000000000001AAA")]
    steps = plan(engine, sa.select(table).where(pairs_in(table.c[first], table.c[second], pairs)))
    assert "SEARCH" in steps and f"SCAN {table.name}" not in steps, steps


def test_record_states_are_found_by_object_and_id(engine: sa.Engine) -> None:
    store = Store(engine)
    at = datetime(2026, 11, 20, 9, tzinfo=UTC)
    with store.decisions.transaction() as tx:
        tx.save_record_states([RecordStateUpdate(kind, rid, at, f"r-{rid}", None, at)
                               for kind, rid in (("Lead", "A"), ("Lead", "B"), ("Contact", "A"))])
    with store.decisions.transaction() as tx:
        found = tx.record_states([("Lead", "A"), ("Contact", "A"), ("Contact", "B")])
    assert sorted(found) == [("Contact", "A"), ("Lead", "A")]
    assert found[("Contact", "A")].routing_id == "r-A"
