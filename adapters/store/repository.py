"""The state store: one object holding the repositories of each concern over one engine (being split into
separate repositories; until then Store mixes them in and each concern property returns the part that serves it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from sqlalchemy.engine import Engine

from adapters.store.administration import Administration
from adapters.store.base import transaction
from adapters.store.bookings import BookingStore
from adapters.store.decisions import SqlDecisions
from adapters.store.holds import SqlHolds
from adapters.store.outbox import OutboxRows
from adapters.store.reference_sync import SyncedReads, SyncTransaction
from adapters.store.sla_timers import SqlSlaTimers
from adapters.store.tokens import TokenStore


class Transaction(SyncTransaction):
    """One database transaction (the assign stage's unit of work is ``store.decisions.transaction()``)."""


class Store(
    OutboxRows,
    SyncedReads,
    Administration,
):
    def __init__(self, engine: Engine):
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One transaction; database trouble surfaces as TransientError so the stage retries."""
        with transaction(self.engine) as connection:
            yield Transaction(connection)

    # One property per concern; each returns what serves that concern.
    @cached_property
    def decisions(self) -> SqlDecisions:
        return SqlDecisions(self.engine)

    @property
    def outbox(self) -> Store:
        return self

    @cached_property
    def holds(self) -> SqlHolds:
        return SqlHolds(self.engine)

    @cached_property
    def sla_timers(self) -> SqlSlaTimers:
        return SqlSlaTimers(self.engine)

    @property
    def reference_sync(self) -> Store:
        return self

    @property
    def administration(self) -> Store:
        return self

    @cached_property
    def bookings(self) -> BookingStore:
        return BookingStore(self.engine)

    @cached_property
    def tokens(self) -> TokenStore:
        return TokenStore(self.engine)
