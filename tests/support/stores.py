"""A store on each database Baton supports: the tests of a repository import ``store`` and run once on SQLite and
once on PostgreSQL (a fresh schema). And another process asking for, or holding, a leader lock of a store."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from adapters.store import Store, make_engine, upgrade_schema
from tests.support.services import REPO_ROOT

TAKE_LOCK = """
import sys, time
from adapters.store import make_engine
from adapters.store.leader import LeaderLock
lock = LeaderLock(make_engine(sys.argv[1]), sys.argv[2])
print("answer:", "held" if lock.try_acquire() else "refused", flush=True)
if sys.argv[3:] == ["hold"]:
    time.sleep(600)
"""


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


def another_process_asks_for(engine: Engine, name: str) -> str:
    """Another process asks for the leader lock ``name`` of the engine's database: ``held`` or ``refused``."""
    asked = subprocess.run([sys.executable, "-c", TAKE_LOCK, str(engine.url), name], cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=60, check=True, env={"PYTHONPATH": str(REPO_ROOT)})
    return next(line for line in asked.stdout.splitlines() if line.startswith("answer:")).split()[1]


@contextmanager
def another_process_holding(engine: Engine, name: str = "inbox") -> Iterator[subprocess.Popen[str]]:
    """Another process holding the leader lock ``name`` (by default the inbox's drain lock) of the engine's
    database (killed with -9 at the end)."""
    holder = subprocess.Popen([sys.executable, "-c", TAKE_LOCK, str(engine.url), name, "hold"], cwd=REPO_ROOT,
                              stdout=subprocess.PIPE, text=True, env={"PYTHONPATH": str(REPO_ROOT)})
    try:
        assert holder.stdout is not None
        assert next(line for line in holder.stdout if line.startswith("answer:")).split()[1] == "held"
        yield holder
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)


def mark_writes(store: Store, routing_ids: list[str], status: str, at: datetime, error: str | None = None) -> None:
    """Marks the pending owner writes of ``routing_ids`` as the flusher would after a call: each as it reads now."""
    pending = {row.routing_id: row for row in store.outbox.due(at + timedelta(days=36_500), limit=100_000)}
    marked = store.outbox.mark([pending[routing_id] for routing_id in routing_ids], status, at, error)
    assert sorted(marked) == sorted(routing_ids), f"not pending: {sorted(set(routing_ids) - set(marked))}"
