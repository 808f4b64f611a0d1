"""The ports a stage handler works through; the composition root fills them in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from adapters.calendar import Calendar
from adapters.logstream.entries import StreamEntry
from adapters.reference import NoReferenceData, NoReferenceUpdates, ReferenceData, ReferenceUpdates
from adapters.salesforce.events import SalesforceEvents
from adapters.store import Store
from baton.configs import ConfigProvider
from kernel.clock import Clock, utc_now
from kernel.ports import OwnerChange, OwnerWriter, WriteResult
from messages import AssignmentLog


class AssignmentSink(Protocol):
    """Publishes assignment logs to whoever follows them (log stream, topic exchange)."""

    def publish(self, logs: Sequence[AssignmentLog]) -> None: ...

    def publish_entries(self, entries: Sequence[StreamEntry]) -> None:
        """Any kind of log (bookings too) with its routing key's parts."""
        ...


class UnconfiguredOwnerWriter:
    """The embedded default has no Salesforce org: decisions are stored, nothing is written out."""

    def write(self, changes: Sequence[OwnerChange]) -> list[WriteResult]:
        return [WriteResult(change.routing_id, True, "not_configured") for change in changes]

    def api_usage(self) -> tuple[int, int] | None:
        return None


@dataclass
class RecordingSink:
    """Keeps published logs in memory (embedded default and tests).

    With ``keep``, only about the latest ``keep`` of each kind (between ``keep`` and twice as many): a
    100,000-record reassign job would otherwise hold every log for the life of the process (memory, and
    garbage-collector passes over all of them). Decisions are in the store either way."""

    published: list[AssignmentLog] = field(default_factory=list)
    published_entries: list[StreamEntry] = field(default_factory=list)
    keep: int | None = None

    def publish(self, logs: Sequence[AssignmentLog]) -> None:
        self.published.extend(logs)
        self._trim(self.published)

    def publish_entries(self, entries: Sequence[StreamEntry]) -> None:
        self.published_entries.extend(entries)
        self._trim(self.published_entries)

    def _trim(self, kept: list[Any]) -> None:
        if self.keep is not None and len(kept) > 2 * self.keep:
            del kept[: len(kept) - self.keep]


@dataclass(frozen=True)
class Ports:
    store: Store
    configs: ConfigProvider
    owner_writer: OwnerWriter
    sink: AssignmentSink
    clock: Clock = utc_now
    reference: ReferenceData = field(default_factory=NoReferenceData)
    reference_updates: ReferenceUpdates = field(default_factory=NoReferenceUpdates)
    calendar: Calendar | None = None  # None: no Google calendar (no busy time read, no event created)
    salesforce_events: SalesforceEvents | None = None  # None: no Salesforce Event for bookings
