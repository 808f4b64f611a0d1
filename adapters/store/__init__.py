"""The state store: SQLAlchemy 2 over PostgreSQL (production) or SQLite (embedded default)."""

from adapters.store.engine import make_engine, upgrade_schema
from adapters.store.repository import DeadLetter, RecordState, Store, StoredConfig, SyncPosition, Transaction

__all__ = [
    "DeadLetter", "RecordState", "Store", "StoredConfig", "SyncPosition", "Transaction", "make_engine", "upgrade_schema",
]
