"""The state store: SQLAlchemy 2 over PostgreSQL (production) or SQLite (embedded default)."""

from adapters.store.decision_write import DecisionRows
from adapters.store.engine import make_engine, upgrade_schema
from adapters.store.repository import (
    ApiUsage,
    DeadLetter,
    Decision,
    ReassignJob,
    RecordState,
    Store,
    StoredConfig,
    StreamPosition,
    SyncPosition,
    Transaction,
)

__all__ = [
    "ApiUsage",
    "DeadLetter",
    "Decision",
    "DecisionRows",
    "ReassignJob",
    "RecordState",
    "Store",
    "StoredConfig",
    "StreamPosition",
    "SyncPosition",
    "Transaction",
    "make_engine",
    "upgrade_schema",
]
