"""Engine creation and migrations for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from adapters.store.json_values import encode_json
from kernel.errors import ConfigError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATION_LOCK_KEY = 0x0BA7_0001
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _configure_schema(engine: Engine, schema: str) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f'SET search_path TO "{schema}"')
        dbapi_connection.commit()


def make_engine(url: str, schema: str | None = None, pool_size: int = 10) -> Engine:
    """An engine whose write transactions serialise on SQLite and use ``schema`` on PostgreSQL."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError([("BATON_DATABASE_URL", f"not a database URL: {exc}")]) from None
    if parsed.get_backend_name() == "sqlite":
        if schema:
            raise ConfigError([("BATON_DATABASE_SCHEMA", "schemas need PostgreSQL, not SQLite")])
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            json_serializer=encode_json,
        )
        _configure_sqlite(engine)
        return engine
    engine = sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                           json_serializer=encode_json)
    if schema:
        if not schema.replace("_", "").isalnum():
            raise ConfigError([("BATON_DATABASE_SCHEMA", f"invalid schema name {schema!r}")])
        _configure_schema(engine, schema)
    return engine


def upgrade_schema(engine: Engine, schema: str | None = None, revision: str = "head") -> None:
    """Bring the store to the newest migration (or to ``revision``); safe when many processes start at once."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            if schema:
                connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()
        try:
            config.attributes["connection"] = connection
            config.attributes["schema"] = schema
            command.upgrade(config, revision)
            connection.commit()
        finally:
            if engine.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                connection.commit()
