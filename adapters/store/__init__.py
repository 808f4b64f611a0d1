"""The state store: SQLAlchemy 2 over PostgreSQL (production) or SQLite (embedded default), one repository per
concern (``Store`` holds them)."""

from adapters.store.engine import make_engine, upgrade_schema
from adapters.store.repository import Store

__all__ = ["Store", "make_engine", "upgrade_schema"]
