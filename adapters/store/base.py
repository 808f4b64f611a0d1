"""What every repository of the store shares: a transaction over the engine, chunked IN lists, and database
trouble turned into Baton's retryable errors. (Timestamps are UTC by their column type: ``adapters/store/utc.py``.)"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from kernel.errors import DependencyUnavailable, TransientError

IN_CHUNK = 500
CONFLICT_STATES = ("40P01", "40001")  # deadlock detected, serialization failure


def pairs_in(first: sa.ColumnElement[Any], second: sa.ColumnElement[Any],
             pairs: Iterable[tuple[Any, Any]]) -> sa.ColumnElement[bool]:
    """``(first, second) IN pairs`` as ``first = a AND second IN (...)`` per distinct ``a``, OR-ed: SQLite scans
    the whole table for a row-value IN list, but searches a two-column key's index for this form."""
    grouped: dict[Any, list[Any]] = {}
    for left, right in pairs:
        grouped.setdefault(left, []).append(right)
    return sa.or_(*(sa.and_(first == left, second.in_(rights)) for left, rights in grouped.items()))


def chunks(ids: Sequence[str], size: int = IN_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


class ConcurrentWriteConflict(TransientError):
    """PostgreSQL aborted the transaction because of a concurrent one: running it again succeeds."""


def database_failure(exc: sa.exc.DBAPIError) -> TransientError:
    """An operational database error as Baton's error: a conflict with a concurrent transaction, or the
    database out of reach (an outage, whose retries do not count against the message)."""
    if getattr(exc.orig, "sqlstate", None) in CONFLICT_STATES:
        return ConcurrentWriteConflict(f"concurrent transaction conflict: {exc.orig}")
    return DependencyUnavailable(f"database unavailable: {exc.orig or exc}")


class StoreTransaction:
    """One database transaction (a connection inside ``engine.begin()``)."""

    def __init__(self, connection: Connection, *_: Any, **__: Any):
        self.connection = connection
        self._dialect = connection.dialect.name

    def _insert_ignoring_conflicts(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        self.connection.execute(insert(table).on_conflict_do_nothing(), rows)


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction on ``engine``; database trouble surfaces as TransientError so the caller's stage retries."""
    try:
        with engine.begin() as connection:
            yield connection
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        raise database_failure(exc) from exc
    except sa.exc.IntegrityError as exc:
        raise TransientError(f"concurrent write of the same key, will re-read: {exc.orig or exc}") from exc
