"""A store on each database Baton supports: the tests of a repository import ``store`` and run once on SQLite and
once on PostgreSQL (a fresh schema)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.store import Store, make_engine, upgrade_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
        schema = None
    else:
        engine = make_engine(request.getfixturevalue("postgres_url"), schema := request.getfixturevalue("pg_schema"))
    upgrade_schema(engine, schema)
    yield Store(engine)
    engine.dispose()
