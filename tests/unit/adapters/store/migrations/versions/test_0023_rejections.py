"""Migration 0023 (SQLite and PostgreSQL): a store at the revision before it gets the empty ``record_rejections``
table the decisions repository writes (within the daily limit) and the assign stage reads; downgrading drops it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.store import Store
from kernel.ports.decisions import Rejection
from tests.support.migrations import empty_store, migrate

BEFORE = "0022_admin_audit"
THIS = "0023_rejections"
AT = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
DAY_START = datetime(2030, 1, 7, tzinfo=UTC)
REP = "005000000000001AAA"


@pytest.fixture(params=["sqlite", "postgresql"])
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, str | None]]:
    engine, schema = empty_store(request, tmp_path)
    migrate(engine, schema, BEFORE)
    yield engine, schema
    engine.dispose()


def test_the_rejections_table_is_added_empty_kept_within_the_limit_and_dropped_on_downgrade(
    old_store: tuple[Engine, str | None],
) -> None:
    engine, schema = old_store
    migrate(engine, schema, THIS)
    decisions = Store(engine).decisions
    yesterday = Rejection("Lead", "00Q000000000001AAA", REP, "Inbound", "old", AT - timedelta(days=1))
    today = Rejection("Lead", "00Q000000000002AAA", REP, "Inbound", "wrong region", AT)

    with decisions.reader() as tx:
        assert tx.rejections([("Lead", today.record_id)]) == {}
    assert decisions.add_rejection(yesterday, 1, DAY_START - timedelta(days=1)) is None
    assert decisions.add_rejection(today, 1, DAY_START) is None  # yesterday's does not count today
    assert decisions.add_rejection(today, 1, DAY_START) == 1  # one too many: refused, not stored
    with decisions.reader() as tx:
        assert tx.rejections([("Lead", today.record_id), ("Lead", yesterday.record_id)]) == {
            ("Lead", today.record_id): [today], ("Lead", yesterday.record_id): [yesterday]}

    migrate(engine, schema, BEFORE, down=True)
    assert "record_rejections" not in sa.inspect(engine).get_table_names(schema=schema)
