"""The state store: one object holding the repositories of each concern over one engine (being split into
separate repositories; until then Store mixes them in and each concern property returns the part that serves it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

from sqlalchemy.engine import Engine

from adapters.store.administration import SqlAdministration
from adapters.store.base import transaction
from adapters.store.bookings import SqlBookings
from adapters.store.decisions import DecisionReads, DecisionTransaction
from adapters.store.holds import HeldRecords
from adapters.store.operations import OperationsReader
from adapters.store.outbox import SqlOutbox
from adapters.store.reference_sync import SqlReferenceSync
from adapters.store.tokens import SqlTokens


class Transaction(DecisionTransaction):
    """One database transaction; the assign stage does all its work inside one."""


class Store(
    DecisionReads,
    HeldRecords,
):
    def __init__(self, engine: Engine):
        self.engine = engine
        self._known_teams: set[str] = set()
        self._availability_cache: dict[str, tuple[float, set[str]]] = {}

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One transaction; database trouble surfaces as TransientError so the stage retries."""
        with transaction(self.engine) as connection:
            yield Transaction(connection, self._known_teams, self._availability_cache)

    # One property per concern; each returns what serves that concern.
    @property
    def decisions(self) -> Store:
        return self

    @cached_property
    def outbox(self) -> SqlOutbox:
        return SqlOutbox(self.engine)

    @property
    def holds(self) -> Store:
        return self

    @cached_property
    def reference_sync(self) -> SqlReferenceSync:
        return SqlReferenceSync(self.engine)

    @cached_property
    def administration(self) -> SqlAdministration:
        return SqlAdministration(self.engine)

    @cached_property
    def operations(self) -> OperationsReader:
        return OperationsReader(self.engine)

    @cached_property
    def bookings(self) -> SqlBookings:
        return SqlBookings(self.engine)

    @cached_property
    def tokens(self) -> SqlTokens:
        return SqlTokens(self.engine)
