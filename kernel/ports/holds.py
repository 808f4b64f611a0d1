"""Held records and SLA timers: decisions waiting for someone to become free, and deadlines for assigned
records to be actioned; the repositories that keep them and the rows that cross them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class HeldRecord:
    """A record no member could take; ``context`` is its routing context (JSON), sent back for a re-check."""

    routing_id: str
    object_type: str
    record_id: str
    team: str
    reason: str
    context: dict[str, Any]
    held_at: datetime
    recheck_at: datetime
    checks: int = 0
    status: str = "held"  # "rechecking": leased to a re-check; "queued": in a pull queue (routing/lifecycles/hold.py)
    version: int = 1  # counts its transitions: a lease names the version it read (compare-and-set)


@dataclass(frozen=True, slots=True)
class SlaTimer:
    routing_id: str
    object_type: str
    record_id: str
    team: str
    owner_id: str
    assigned_at: datetime
    due_at: datetime


@dataclass(frozen=True, slots=True)
class LatestActivity:
    """The newest event Baton holds for the record: which routing, when, and whether Baton made it."""

    routing_id: str
    event_at: datetime
    by_baton: bool = False


class HoldRepository(Protocol):
    """Held records outside the assign stage's transaction (that one saves and releases them)."""

    def held(self, due_at: datetime | None = None, limit: int | None = None) -> list[HeldRecord]:
        """Held records, next re-check first; only those due by ``due_at`` when it is given."""
        ...

    def lease(self, due: Sequence[HeldRecord], until: datetime) -> list[str]:
        """Leases each hold to a re-check until ``until`` (``rechecking``), if it still has the status and
        version it was read with; returns the routing ids leased (the others changed since: a lost race)."""
        ...

    def recheck_all(self, now: datetime) -> None:
        """Someone became available: every hold is due for a re-check at ``now``."""
        ...


class SlaTimerRepository(Protocol):
    def open(self, timers: Sequence[SlaTimer]) -> None:
        """Stores new timers; one already stored for a routing id (a redelivered decision) is kept."""
        ...

    def due(self, now: datetime, limit: int = 500) -> list[SlaTimer]: ...

    def close(self, routing_ids: Iterable[str], state: str, now: datetime) -> None: ...

    def states(self) -> dict[str, str]:
        """routing id -> open, actioned or breached."""
        ...

    def latest_activity(self, timers: Sequence[SlaTimer]) -> dict[str, LatestActivity]:
        """Per timer's routing id, the newest event Baton holds for its record."""
        ...
