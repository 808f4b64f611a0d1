"""What booking code works through: the repositories and services it uses, taken from the application's ports."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.calendar import Calendar
from adapters.salesforce.events import SalesforceEvents
from baton.configs import ConfigProvider
from baton.ports import AssignmentSink, Ports
from kernel.clock import Clock
from kernel.ports.bookings import BookingRepository
from kernel.ports.decisions import DecisionRepository
from kernel.ports.outbox import OutboxRepository
from kernel.ports.reference_sync import SyncedReads


@dataclass(frozen=True, slots=True)
class BookingPorts:
    """Bookings, the booking owner's decisions and logs (and their outbox rows, withdrawn when the booking ended
    first), the synced users and records it reads, the config, the clock, the log sink, and the calendar and
    Salesforce Events when configured."""

    bookings: BookingRepository
    decisions: DecisionRepository
    outbox: OutboxRepository
    reference_sync: SyncedReads
    configs: ConfigProvider
    clock: Clock
    sink: AssignmentSink
    calendar: Calendar | None
    salesforce_events: SalesforceEvents | None

    @classmethod
    def of(cls, ports: Ports) -> BookingPorts:
        store = ports.store
        return cls(bookings=store.bookings, decisions=store.decisions, outbox=store.outbox,
                   reference_sync=store.reference_sync,
                   configs=ports.configs, clock=ports.clock, sink=ports.sink, calendar=ports.calendar,
                   salesforce_events=ports.salesforce_events)
