"""Leader election for singletons (change-event listener, outbox flusher, scheduler).

On PostgreSQL a session-level advisory lock (``pg_try_advisory_lock``) on a dedicated connection
elects one holder per name; the lock lives as long as that connection, so a crashed or partitioned
leader loses it and a replica takes over. The key is derived from the schema and the name, so two
Baton deployments in one database never block each other. On a SQLite file the lock is an exclusive file
lock (``flock``, through ``filelock``) on ``<database file>.<name>.lock`` beside it, shared by every
``LeaderLock`` of that name in the holding process: one process on the file leads, the others stand by, and
the kernel releases it when its process ends (``kill -9`` too). An in-memory SQLite database has one process:
it always leads.

    with LeaderLock(engine, "listen:/data/LeadChangeEvent") as lock:
        if lock.held:
            ...  # work, checking lock.still_held() between units of work
"""

from __future__ import annotations

import hashlib
import re
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import sqlalchemy as sa
import structlog
from filelock import FileLock, Timeout
from sqlalchemy.engine import Connection, Engine

log = structlog.get_logger(__name__)


def lock_key(namespace: str, name: str) -> int:
    """A stable signed 64-bit advisory lock key for ``name`` within ``namespace`` (the schema)."""
    digest = hashlib.sha256(f"baton\x1f{namespace}\x1f{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_file(engine: Engine, name: str) -> Path | None:
    """The file lock of ``name`` beside a SQLite database file; None for PostgreSQL or an in-memory SQLite."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "lock"
    return Path(database).resolve().with_name(f"{Path(database).name}.{slug}.lock")


@dataclass
class _FileHold:
    lock: FileLock
    holders: int = 0


_FILE_HOLDS: dict[Path, _FileHold] = {}
_FILE_HOLDS_GUARD = threading.Lock()


def _take_file(path: Path) -> bool:
    """True when this process holds the file lock (now or already, for another LeaderLock of the name)."""
    with _FILE_HOLDS_GUARD:
        hold = _FILE_HOLDS.get(path)
        if hold is None:
            lock = FileLock(path, thread_local=False, fallback_to_soft=False)
            try:
                lock.acquire(blocking=False)
            except Timeout:
                return False
            hold = _FILE_HOLDS[path] = _FileHold(lock)
        hold.holders += 1
        return True


def _give_file_back(path: Path) -> None:
    with _FILE_HOLDS_GUARD:
        hold = _FILE_HOLDS.get(path)
        if hold is None:
            return
        hold.holders -= 1
        if hold.holders <= 0:
            del _FILE_HOLDS[path]
            hold.lock.release()


class LeaderLock:
    def __init__(self, engine: Engine, name: str):
        self.name = name
        self._engine = engine
        self.lock_file = lock_file(engine, name)
        self._embedded = engine.dialect.name != "postgresql" and self.lock_file is None
        self._file_held: weakref.finalize | None = None
        self._connection: Connection | None = None
        self._key: int | None = None

    @property
    def key(self) -> int | None:
        """The advisory lock key while held on PostgreSQL (for pg_locks diagnostics)."""
        return self._key

    @property
    def held(self) -> bool:
        return self._embedded or self._file_held is not None or self._connection is not None

    def try_acquire(self) -> bool:
        """True when this process holds (or now took) the lock; never waits."""
        if self.held:
            return True
        if self.lock_file is not None:
            return self._try_file(self.lock_file)
        connection = self._engine.connect()
        try:
            schema = connection.execute(sa.text("SELECT current_schema()")).scalar() or ""
            key = lock_key(schema, self.name)
            won = bool(connection.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
            connection.commit()
        except Exception:
            connection.invalidate()
            connection.close()
            raise
        if not won:
            connection.close()
            return False
        self._connection, self._key = connection, key
        log.info("leader_elected", lock=self.name)
        return True

    def _try_file(self, path: Path) -> bool:
        if not _take_file(path):
            return False
        self._file_held = weakref.finalize(self, _give_file_back, path)  # given back if never released
        log.info("leader_elected", lock=self.name, lock_file=str(path))
        return True

    def still_held(self) -> bool:
        """Whether the lock is still ours: false once its connection is gone (then it was released). A file
        lock stays held while its process lives."""
        if self._embedded or self._file_held is not None:
            return True
        if self._connection is None:
            return False
        try:
            self._connection.execute(sa.text("SELECT 1"))
            self._connection.commit()
            return True
        except sa.exc.DBAPIError:
            log.warning("leader_lost", lock=self.name, reason="lock connection lost")
            self._drop(invalidate=True)
            return False

    def release(self) -> None:
        if self._file_held is not None:
            self._file_held, finalizer = None, self._file_held
            finalizer()
            log.info("leader_released", lock=self.name)
            return
        if self._connection is None:
            return
        try:
            self._connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
            self._connection.commit()
            self._drop(invalidate=False)
        except sa.exc.DBAPIError:
            self._drop(invalidate=True)  # a dead connection holds no lock
        log.info("leader_released", lock=self.name)

    def _drop(self, invalidate: bool) -> None:
        connection, self._connection, self._key = self._connection, None, None
        if connection is not None:
            if invalidate:
                connection.invalidate()
            connection.close()

    def __enter__(self) -> LeaderLock:
        self.try_acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
