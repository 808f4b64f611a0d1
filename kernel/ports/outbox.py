"""The outbox port: owner writes waiting for Salesforce, as the flusher and the operator commands see them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from kernel.ports.owners import OwnerChange

WITHDRAWN = "withdrawn"  # a pending write taken back before it was sent (its booking ended first)


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """An owner write still to be sent: what to write, and how its earlier attempts went."""

    routing_id: str
    object_type: str
    record_id: str
    owner_id: str
    attempts: int
    last_error: str | None

    @property
    def change(self) -> OwnerChange:
        return OwnerChange(self.routing_id, self.object_type, self.record_id, self.owner_id)


class OutboxRepository(Protocol):
    """Pending, sent and failed owner writes."""

    def due(self, now: datetime, channel: str = "realtime", limit: int = 2000) -> list[PendingWrite]:
        """Pending writes of a channel whose next attempt is due, oldest first."""
        ...

    def next_attempt(self, channel: str) -> datetime | None:
        """When the earliest pending write of a channel that waits for a retry is due; None if none waits."""
        ...

    def mark(self, routing_ids: Iterable[str], status: str, now: datetime, error: str | None = None) -> None:
        """A finished write attempt: sent, rejected by Salesforce, not configured, or failed for good."""
        ...

    def note(self, routing_ids: Iterable[str], note: str) -> None:
        """Notes why writes are where they are (e.g. in flight) without counting an attempt."""
        ...

    def defer(self, errors: Mapping[str, str], until: datetime) -> None:
        """Writes that will be retried (routing id -> error): count the attempt, try again at ``until``."""
        ...

    def requeue(self, routing_ids: Iterable[str]) -> int:
        """Failed writes back to pending (a replayed dead letter); returns how many."""
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
