"""The state store: SQLAlchemy 2 over PostgreSQL (production) or SQLite (embedded default)."""

from adapters.store.administration import (
    ApiUsage,
    DeadLetter,
    ReassignJob,
    StoredConfig,
    StreamPosition,
)
from adapters.store.decisions import SqlDecisions
from adapters.store.engine import make_engine, upgrade_schema
from adapters.store.reference_sync import SyncPosition
from adapters.store.repository import Store, Transaction

__all__ = [
    "ApiUsage",
    "DeadLetter",
    "ReassignJob",
    "SqlDecisions",
    "Store",
    "StoredConfig",
    "StreamPosition",
    "SyncPosition",
    "Transaction",
    "make_engine",
    "upgrade_schema",
]
