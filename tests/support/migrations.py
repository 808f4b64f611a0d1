"""A store moved to one Alembic revision (up or down), on SQLite or PostgreSQL: what a migration's test starts
from and checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from adapters.store import make_engine
from adapters.store.engine import MIGRATIONS_DIR


def migrate(engine: Engine, schema: str | None, revision: str, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.connect() as connection:
        if schema:
            connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        config.attributes["connection"], config.attributes["schema"] = connection, schema
        (command.downgrade if down else command.upgrade)(config, revision)
        connection.commit()


def empty_store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Engine, str | None]:
    """An engine on an empty store of the fixture's param (``sqlite`` or ``postgresql``), with its schema."""
    if request.param == "sqlite":
        return make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}"), None
    schema = request.getfixturevalue("pg_schema")
    return make_engine(request.getfixturevalue("postgres_url"), schema), schema
