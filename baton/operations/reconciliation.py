"""``baton reconcile``'s reads and writes: each record's newest decided owner and the bookings not finished from the
store, the records' owners from Salesforce, compared by ``baton.operations.reconcile``; with ``requeue``, the
differing decisions' owner writes go back in the outbox as new pending rows (the flusher writes them, as any
other; nothing is written to Salesforce from here)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import groupby
from typing import Protocol

from baton.operations.reconcile import (
    Action,
    OwnerComparison,
    UnfinishedBooking,
    compare_owners,
    unfinished_bookings,
)
from kernel.ports.bookings import BookingRow
from kernel.ports.decisions import OwnerWrite
from kernel.ports.operations import LatestOwnerDecision
from kernel.ports.outbox import OutboxRepository
from messages.booking import FINAL_STATUSES

REQUEUE_NOTE = "queued again by baton reconcile (Salesforce had another owner)"
REQUEUE_CHANNEL = "realtime"
_RESEND_NAMESPACE = uuid.UUID("6f1c1f55-5d0e-4c49-9a43-0e6f3c2b7a19")


class OwnerSource(Protocol):
    """Records' owners as Salesforce has them now."""

    def owners(self, object_type: str, record_ids: Sequence[str]) -> dict[str, str]:
        """The 15-character id of each of these records that exists -> its owner id."""
        ...


class ReconcileReads(Protocol):
    def latest_owner_decisions(self, objects: Sequence[str] = (),
                               since: datetime | None = None) -> list[LatestOwnerDecision]: ...

    def unfinished_bookings(self, final_statuses: Collection[str], objects: Sequence[str] = (),
                            since: datetime | None = None) -> list[BookingRow]: ...


@dataclass(frozen=True)
class ReconcileRequest:
    """What to compare: decisions and bookings of ``objects`` (all when empty) made since ``since``; bookings
    created before ``bookings_before`` only; ``requeue`` the differing owners' writes."""

    objects: Sequence[str] = ()
    since: datetime | None = None
    bookings_before: datetime | None = None
    requeue: bool = False


@dataclass
class ReconcileReport:
    owners: OwnerComparison = field(default_factory=OwnerComparison)
    bookings: list[UnfinishedBooking] = field(default_factory=list)
    requeued: int = 0

    @property
    def clean(self) -> bool:
        return not self.owners.differences and not self.bookings


def resend_id(routing_id: str, now: datetime) -> str:
    """The routing id of a decision's write queued again at ``now`` (its own outbox row)."""
    return str(uuid.uuid5(_RESEND_NAMESPACE, f"{routing_id}\x1f{now.isoformat()}"))


def compare(reads: ReconcileReads, source: OwnerSource, request: ReconcileRequest) -> OwnerComparison:
    """Each record's newest decided owner against Salesforce, one object type at a time."""
    comparison = OwnerComparison()
    decisions = reads.latest_owner_decisions(request.objects, request.since)
    for object_type, group in groupby(decisions, key=lambda decision: decision.object_type):
        batch = list(group)
        comparison.add(compare_owners(batch, source.owners(object_type, [row.record_id for row in batch])))
    return comparison


def requeue(comparison: OwnerComparison, outbox: OutboxRepository, now: datetime) -> int:
    """Queues the write of every difference that may be queued again; a record whose newest write turned pending
    meanwhile is left to it. Marks each difference with what happened; returns how many were queued."""
    writes = {
        (found.decision.object_type, found.decision.record_id): OwnerWrite(
            resend_id(found.decision.routing_id, now), found.decision.object_type, found.decision.record_id,
            found.decision.owner_id, REQUEUE_CHANNEL, now)
        for found in comparison.to_requeue()
    }
    queued = {(write.object_type, write.record_id) for write in outbox.resend(list(writes.values()), REQUEUE_NOTE)}
    comparison.differences = [
        found if found.action is not Action.REQUEUE
        else replace(found, action=Action.REQUEUED if (found.decision.object_type, found.decision.record_id) in queued
                     else Action.PENDING)
        for found in comparison.differences
    ]
    return len(queued)


def reconcile(reads: ReconcileReads, source: OwnerSource, outbox: OutboxRepository, request: ReconcileRequest,
              now: datetime) -> ReconcileReport:
    """Owners compared (and, with ``request.requeue``, queued again), then the bookings not finished."""
    report = ReconcileReport(owners=compare(reads, source, request))
    if request.requeue:
        report.requeued = requeue(report.owners, outbox, now)
    bookings = reads.unfinished_bookings(FINAL_STATUSES, request.objects, request.since)
    report.bookings = unfinished_bookings(bookings, now, request.bookings_before)
    return report
