"""The state store: SQLAlchemy 2 over PostgreSQL (production) or SQLite (embedded default)."""

from adapters.store.administration import (
    ApiUsage,
    DeadLetter,
    ReassignJob,
    StoredConfig,
    StreamPosition,
)
from adapters.store.decision_write import DecisionRows
from adapters.store.decisions import Decision, RecordState
from adapters.store.engine import make_engine, upgrade_schema
from adapters.store.reference_sync import SyncPosition
from adapters.store.repository import Store, Transaction

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
