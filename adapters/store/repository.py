"""The state store: one repository per concern over one engine, each implementing its port in ``kernel.ports``."""

from __future__ import annotations

from functools import cached_property

from sqlalchemy.engine import Engine

from adapters.store.administration import SqlAdministration
from adapters.store.audit import SqlAudit
from adapters.store.bookings import SqlBookings
from adapters.store.decisions import SqlDecisions
from adapters.store.describes import SqlDescribes
from adapters.store.holds import SqlHolds
from adapters.store.inbox import SqlInbox
from adapters.store.operations import OperationsReader
from adapters.store.outbox import SqlOutbox
from adapters.store.reference_sync import SqlReferenceSync
from adapters.store.sla_timers import SqlSlaTimers
from adapters.store.tokens import SqlTokens


class Store:
    """The repositories of one database; each is made on first use and kept."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @cached_property
    def decisions(self) -> SqlDecisions:
        return SqlDecisions(self.engine)

    @cached_property
    def holds(self) -> SqlHolds:
        return SqlHolds(self.engine)

    @cached_property
    def sla_timers(self) -> SqlSlaTimers:
        return SqlSlaTimers(self.engine)

    @cached_property
    def outbox(self) -> SqlOutbox:
        return SqlOutbox(self.engine)

    @cached_property
    def bookings(self) -> SqlBookings:
        return SqlBookings(self.engine)

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
    def tokens(self) -> SqlTokens:
        return SqlTokens(self.engine)

    @cached_property
    def inbox(self) -> SqlInbox:
        return SqlInbox(self.engine)

    @cached_property
    def describes(self) -> SqlDescribes:
        return SqlDescribes(self.engine)

    @cached_property
    def audit(self) -> SqlAudit:
        return SqlAudit(self.engine)
