"""The state store: SQLAlchemy 2 over PostgreSQL (production) or SQLite (embedded default)."""

from adapters.store.decision_write import DecisionRows
from adapters.store.decisions import Decision, RecordState
from adapters.store.engine import make_engine, upgrade_schema
from adapters.store.repository import Store, Transaction
from kernel.ports.operations import (
    ApiUsage,
    DeadLetter,
    NewDeadLetter,
    ReassignJob,
    StoredConfig,
    StreamPosition,
)
from kernel.ports.reference_sync import SyncedWrite, SyncPosition

__all__ = [
    "ApiUsage",
    "DeadLetter",
    "Decision",
    "DecisionRows",
    "NewDeadLetter",
    "ReassignJob",
    "RecordState",
    "Store",
    "StoredConfig",
    "StreamPosition",
    "SyncPosition",
    "SyncedWrite",
    "Transaction",
    "make_engine",
    "upgrade_schema",
]
