"""``baton reconcile``: owners in Salesforce against Baton's newest decisions, and bookings that never reached a
final state (pure; no I/O).

For installs that ran code with the integrity windows of issue 19 open: an older owner write that overwrote a
newer one, owner writes dead-lettered during an outage, bookings stopped between two steps. The command reads
the store and Salesforce and hands both here; what it may do about a difference (queue the decision's write
again) is decided here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from baton.chains import BOOKING, BOOKING_CALENDAR, BOOKING_EVENT, BOOKING_REQUEST
from kernel.ports.bookings import BookingRow
from kernel.ports.operations import LatestOwnerDecision
from messages.booking import FINAL_STATUSES, BookingStatus

PENDING = "pending"


class Difference(StrEnum):
    DIFFERS = "differs"  # Salesforce has another owner than Baton's newest decision
    MISSING = "missing"  # no such record in Salesforce (deleted, merged, or not visible to Baton's user)


class Action(StrEnum):
    """What ``--requeue`` does (or did) about a difference."""

    REQUEUE = "requeue"  # the decision's write can be queued again (run with --requeue)
    REQUEUED = "requeued"  # it was: a new pending outbox row
    PENDING = "pending"  # the record's newest write is still pending: the flusher will write it
    NONE = "none"  # nothing to write to (the record is missing)


def same_id(first: str, second: str) -> bool:
    """Salesforce ids are equal when their case-sensitive 15-character forms are."""
    return first[:15] == second[:15]


@dataclass(frozen=True, slots=True)
class OwnerDifference:
    decision: LatestOwnerDecision
    salesforce_owner_id: str | None  # None: the record is missing
    difference: Difference
    action: Action


@dataclass
class OwnerComparison:
    """How many records were compared and matched, and every difference (in the decisions' order)."""

    compared: int = 0
    matched: int = 0
    differences: list[OwnerDifference] = field(default_factory=list)

    def add(self, other: OwnerComparison) -> None:
        self.compared += other.compared
        self.matched += other.matched
        self.differences.extend(other.differences)

    def count(self, difference: Difference) -> int:
        return sum(1 for found in self.differences if found.difference is difference)

    def to_requeue(self) -> list[OwnerDifference]:
        return [found for found in self.differences if found.action is Action.REQUEUE]


def compare_owners(decisions: Iterable[LatestOwnerDecision], salesforce_owners: Mapping[str, str]) -> OwnerComparison:
    """Each decision against its record's owner in Salesforce (``salesforce_owners``: the 15-character id of each
    record that exists -> its owner). A differing record may be queued again unless its newest write is still
    pending (the flusher has yet to write it); a missing one has nothing to write to."""
    comparison = OwnerComparison()
    for decision in decisions:
        comparison.compared += 1
        owner = salesforce_owners.get(decision.record_id[:15])
        if owner is None:
            comparison.differences.append(OwnerDifference(decision, None, Difference.MISSING, Action.NONE))
        elif same_id(owner, decision.owner_id):
            comparison.matched += 1
        else:
            action = Action.PENDING if decision.newest_write_status == PENDING else Action.REQUEUE
            comparison.differences.append(OwnerDifference(decision, owner, Difference.DIFFERS, action))
    return comparison


# bookings ----------------------------------------------------------------------------------------------------
_STEP_AFTER_STATUS: dict[str, str] = {  # the booking chain's stage that set the status; the next one is still to run
    BookingStatus.RESERVED: BOOKING_REQUEST.name,
    BookingStatus.CALENDAR_CREATED: BOOKING_CALENDAR.name,
    BookingStatus.EVENT_CREATED: BOOKING_EVENT.name,
}
_STAGES = [stage.name for stage in BOOKING.stages]
UNKNOWN_STEP = "(unknown)"


def last_step(status: str) -> str | None:
    """The booking chain's last stage done for a booking in ``status`` (None: none yet)."""
    if status == BookingStatus.REQUESTED:
        return None
    return _STEP_AFTER_STATUS.get(status, UNKNOWN_STEP)


def next_step(status: str) -> str | None:
    done = last_step(status)
    if done is None:
        return _STAGES[0]
    if done == UNKNOWN_STEP:
        return None
    position = _STAGES.index(done)
    return _STAGES[position + 1] if position + 1 < len(_STAGES) else None


@dataclass(frozen=True, slots=True)
class UnfinishedBooking:
    booking: BookingRow
    age: timedelta  # since it was created
    idle: timedelta  # since its last change
    last_step: str | None
    next_step: str | None


def unfinished_bookings(bookings: Iterable[BookingRow], now: datetime,
                        created_before: datetime | None = None) -> list[UnfinishedBooking]:
    """Bookings in no final state (``FINAL_STATUSES``; created before ``created_before`` when given), oldest
    first."""
    found = [
        UnfinishedBooking(booking, now - booking.created_at, now - booking.updated_at, last_step(booking.status),
                          next_step(booking.status))
        for booking in bookings
        if booking.status not in FINAL_STATUSES and (created_before is None or booking.created_at < created_before)
    ]
    return sorted(found, key=lambda item: (item.booking.created_at, item.booking.id))


# the report --------------------------------------------------------------------------------------------------
def owner_document(found: OwnerDifference) -> dict[str, Any]:
    """One difference as a JSON line."""
    decision = found.decision
    return {
        "kind": "owner", "object_type": decision.object_type, "record_id": decision.record_id,
        "difference": found.difference.value, "salesforce_owner_id": found.salesforce_owner_id,
        "baton_owner_id": decision.owner_id, "decided_at": decision.decided_at.isoformat(),
        "routing_id": decision.routing_id, "write_status": decision.write_status,
        "newest_write_status": decision.newest_write_status, "action": found.action.value,
    }


def booking_document(found: UnfinishedBooking) -> dict[str, Any]:
    booking = found.booking
    return {
        "kind": "booking", "booking_id": booking.id, "status": booking.status, "object_type": booking.object_type,
        "record_id": booking.record_id, "host_id": booking.host_id, "starts_at": booking.starts_at.isoformat(),
        "created_at": booking.created_at.isoformat(), "updated_at": booking.updated_at.isoformat(),
        "age_s": int(found.age.total_seconds()), "idle_s": int(found.idle.total_seconds()),
        "last_step": found.last_step, "next_step": found.next_step, "error": booking.error,
    }


def short_age(span: timedelta) -> str:
    """``3d4h``, ``2h0m``, ``45s``: the largest unit that is not zero and the one below it."""
    seconds = max(0, int(span.total_seconds()))
    parts = [(seconds // 86_400, "d"), (seconds % 86_400 // 3_600, "h"), (seconds % 3_600 // 60, "m"),
             (seconds % 60, "s")]
    first = next((index for index, (value, _) in enumerate(parts) if value), len(parts) - 1)
    return "".join(f"{value}{unit}" for value, unit in parts[first : first + 2])
