"""The outbox port: owner writes waiting for Salesforce, as the flusher and the operator commands see them.

A row's statuses and the transitions between them are declared in ``routing/lifecycles/outbox.py``. Every
change of a row is a compare-and-set on its status and ``version``: a row changed since it was read (by a
replay, a withdrawal, another flusher) is left as it is, and the call says which rows it moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from kernel.ports.decisions import OwnerWrite
from kernel.ports.owners import OwnerChange


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """An owner write still to be sent: what to write, how its earlier attempts went, and where it stands: the
    record's write number ``sequence`` (a higher one is a newer decision) and the row's ``version``."""

    routing_id: str
    object_type: str
    record_id: str
    owner_id: str
    attempts: int
    last_error: str | None
    sequence: int
    version: int
    created_at: datetime
    retrying_since: datetime | None
    fields: dict[str, Any] | None = None  # the decision's facts written beside the owner, on the same row
    owner_field: str = "OwnerId"  # the user field written; rows of another field never supersede OwnerId's

    @property
    def change(self) -> OwnerChange:
        return OwnerChange(self.routing_id, self.object_type, self.record_id, self.owner_id, self.fields,
                           self.owner_field)


@dataclass(frozen=True, slots=True)
class FactsWrite:
    """A write of routing facts alone (an SLA breached) for the decision ``decision_routing_id``: the decision's
    owner again, under a routing id of its own, numbered after the record's last write."""

    decision_routing_id: str
    write: OwnerWrite


@dataclass(frozen=True, slots=True)
class Retry:
    """A write that failed transiently and is tried again at ``until``."""

    row: PendingWrite
    error: str
    until: datetime


@dataclass(frozen=True, slots=True)
class Backlog:
    """The pending writes of a channel: how many, and when the oldest was queued."""

    rows: int
    oldest_created_at: datetime | None


class OutboxRepository(Protocol):
    """Pending, sent and failed owner writes."""

    def due(self, now: datetime, channel: str = "realtime", limit: int = 2000) -> list[PendingWrite]:
        """Pending writes of a channel whose next attempt is due, oldest first."""
        ...

    def next_attempt(self, channel: str) -> datetime | None:
        """When the earliest pending write of a channel that waits for a retry is due; None if none waits."""
        ...

    def supersede(self, rows: Sequence[PendingWrite], now: datetime) -> list[PendingWrite]:
        """Marks ``superseded`` each row for whose record a newer write is pending or written (it must not be
        sent: its owner would replace a newer decision's); returns the rows still to write."""
        ...

    def claim(self, rows: Sequence[PendingWrite], note: str) -> list[PendingWrite]:
        """Notes why writes are where they are (in flight) without counting an attempt; returns the rows it
        noted, as they now stand (a row changed since it was read is not among them and must not be sent)."""
        ...

    def mark(self, rows: Sequence[PendingWrite], status: str, now: datetime, error: str | None = None) -> list[str]:
        """A finished write attempt: sent, rejected by Salesforce, not configured, superseded, or failed for
        good. Returns the routing ids marked."""
        ...

    def defer(self, retries: Sequence[Retry], now: datetime) -> None:
        """Writes that will be retried: count the attempt, keep the error, try again at each one's ``until``."""
        ...

    def requeue(self, routing_ids: Iterable[str]) -> int:
        """Failed writes back to pending (a replayed dead letter); returns how many."""
        ...

    def resend(self, writes: Sequence[OwnerWrite], note: str) -> list[OwnerWrite]:
        """Owner writes queued again (``baton reconcile --requeue``): a new pending row for each, under the write's
        own routing id and with ``note`` as its last error, except for a record whose newest row is still pending
        (it will be written anyway). Returns the writes queued."""
        ...

    def queue_facts(self, writes: Sequence[FactsWrite]) -> list[str]:
        """Facts-only writes, each pending and numbered after its record's last write when its decision is still
        its record's newest (else stored superseded, never sent); one queued already is kept. Returns the
        routing ids queued pending."""
        ...

    def withdraw(self, routing_ids: Iterable[str], reason: str) -> int:
        """Pending writes that must not be sent any more (their booking ended before they were) become
        ``withdrawn`` with ``reason``; one sent or failed already stays. Returns how many were withdrawn."""
        ...

    def statuses(self, routing_ids: Sequence[str]) -> dict[str, str]:
        """routing id -> the status of its write, for the ids that have one."""
        ...

    def summary(self) -> dict[tuple[str, int], int]:
        """How many writes sit at each (status, attempts): a record written once shows attempts 1."""
        ...

    def backlog(self) -> dict[str, Backlog]:
        """Per channel with pending writes: how many, and the oldest one's queueing time."""
        ...
