"""Leader election for singletons (change-event listener, outbox flusher, scheduler).

On PostgreSQL a session-level advisory lock (``pg_try_advisory_lock``) on a dedicated connection
elects one holder per name; the lock lives as long as that connection, so a crashed or partitioned
leader loses it and a replica takes over. The key is derived from the schema and the name, so two
Baton deployments in one database never block each other. On SQLite the embedded single process is
always the leader.

    with LeaderLock(engine, "listen:/data/LeadChangeEvent") as lock:
        if lock.held:
            ...  # work, checking lock.still_held() between units of work
"""

from __future__ import annotations

import hashlib
from types import TracebackType

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Connection, Engine

log = structlog.get_logger(__name__)


def lock_key(namespace: str, name: str) -> int:
    """A stable signed 64-bit advisory lock key for ``name`` within ``namespace`` (the schema)."""
    digest = hashlib.sha256(f"baton\x1f{namespace}\x1f{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class LeaderLock:
    def __init__(self, engine: Engine, name: str):
        self.name = name
        self._engine = engine
        self._embedded = engine.dialect.name != "postgresql"
        self._connection: Connection | None = None
        self._key: int | None = None

    @property
    def key(self) -> int | None:
        """The advisory lock key while held on PostgreSQL (for pg_locks diagnostics)."""
        return self._key

    @property
    def held(self) -> bool:
        return self._embedded or self._connection is not None

    def try_acquire(self) -> bool:
        """True when this process holds (or now took) the lock; never waits."""
        if self.held:
            return True
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

    def still_held(self) -> bool:
        """Whether the lock is still ours: false once its connection is gone (then it was released)."""
        if self._embedded:
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
