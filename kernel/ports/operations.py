"""The operations port: what operators keep in the store (config versions, dead letters, API usage, stream
positions, reassign jobs), and the read-only queries behind the operator commands (log history, a record's
trace, daily figures), as Protocols with the typed rows that cross them."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from kernel.ports.audit import AuditEntry
from kernel.ports.bookings import BookingRow
from kernel.ports.holds import HeldRecord


@dataclass(frozen=True, slots=True)
class StoredConfig:
    version: int
    body: str
    digest: str
    applied_at: datetime


@dataclass(frozen=True, slots=True)
class NewDeadLetter:
    """A message that failed for good, as it is stored."""

    message_id: str
    queue_name: str
    actor_name: str
    stage: str
    routing_ids: list[str]
    message: dict[str, Any]
    reason: str
    failed_at: datetime


@dataclass(frozen=True, slots=True)
class DeadLetter(NewDeadLetter):
    """A stored dead letter: as it was stored, with its id and its replays."""

    id: int
    replayed_at: datetime | None
    replay_count: int


@dataclass(frozen=True, slots=True)
class ApiUsage:
    """The org's daily API requests, as Salesforce last reported them (Sforce-Limit-Info)."""

    used: int
    limit: int
    observed_at: datetime

    @property
    def share(self) -> float:
        return self.used / self.limit if self.limit else 0.0


@dataclass(frozen=True, slots=True)
class StreamPosition:
    """Where a Streaming API channel was left: the last processed replay id (None after a catch-up by
    query) and the time of the last event covered, from which a catch-up query starts."""

    channel: str
    replay_id: int | None
    event_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ReassignJob:
    """A batch reassignment job: what it reads, where it got to, and its counts."""

    id: str
    source: str
    query: str
    object_type: str
    state: str
    dry_run: bool
    bulk_query_job_id: str | None
    counts: dict[str, int]
    error: str | None
    created_at: datetime
    updated_at: datetime


class ConfigVersionRepository(Protocol):
    def latest_config(self) -> StoredConfig | None: ...

    def config(self, version: int) -> StoredConfig | None: ...

    def save_config(self, body: str, digest: str, now: datetime) -> tuple[int, bool]:
        """Store a validated config; returns (version, created). The same text as the newest is a no-op."""
        ...


class DeadLetterRepository(Protocol):
    def add_dead_letter(self, letter: NewDeadLetter) -> int:
        """Stores the letter; returns its id."""
        ...

    def add_dead_letter_once(self, letter: NewDeadLetter) -> tuple[int, bool]:
        """Stores the letter unless one with its ``message_id`` is stored already (replayed or not); returns
        (its id, whether it was added). For a broker message, whose id is unique: its store copy may be written
        by the worker that dead-lettered it and by whoever moves RabbitMQ's dead-letter queue, in either order."""
        ...

    def dead_letters(self, stage: str | None = None, include_replayed: bool = False) -> list[DeadLetter]: ...

    def dead_letter(self, letter_id: int) -> DeadLetter | None: ...

    def mark_replayed(self, letter_id: int, now: datetime) -> None: ...


class ApiUsageRepository(Protocol):
    def save_api_usage(self, used: int, limit: int, now: datetime, name: str = "api-usage") -> None: ...

    def api_usage(self, name: str = "api-usage") -> ApiUsage | None: ...


class StreamPositionRepository(Protocol):
    def stream_position(self, channel: str) -> StreamPosition | None: ...

    def save_stream_position(self, channel: str, replay_id: int | None, event_at: datetime | None,
                             now: datetime) -> None:
        """Call only once the events up to ``replay_id`` are enqueued (the broker confirmed them)."""
        ...


class ReassignJobRepository(Protocol):
    def add_reassign_job(self, job: ReassignJob) -> None: ...

    def reassign_job(self, job_id: str) -> ReassignJob | None: ...

    def set_reassign_job_state(self, job_id: str, state: str, now: datetime, *, error: str | None = None,
                               counts: Mapping[str, int] | None = None) -> None:
        """The job moves to ``state`` with ``error`` (None clears it); ``counts``, when given, replace its counts."""
        ...

    def set_reassign_job_query(self, job_id: str, bulk_query_job_id: str, now: datetime) -> None:
        """The Bulk API query job the job reads, so a resumed job reads the same results."""
        ...


class AdministrationRepository(
    ConfigVersionRepository,
    DeadLetterRepository,
    ApiUsageRepository,
    StreamPositionRepository,
    ReassignJobRepository,
    Protocol,
):
    """Everything operators keep in the store."""


@dataclass(frozen=True)
class LogFilter:
    """What ``baton logs`` keeps: each non-empty list is an OR of its values; the lists are ANDed."""

    teams: Sequence[str] = ()
    objects: Sequence[str] = ()
    outcomes: Sequence[str] = ()
    owners: Sequence[str] = ()

    def keeps(self, entry: dict[str, Any]) -> bool:
        """The same filter applied to a log body (the live stream filters owners on the client)."""
        pairs = ((self.teams, "team"), (self.objects, "object_type"), (self.outcomes, "outcome"),
                 (self.owners, "owner_id"))
        return all(not wanted or entry.get(key) in wanted for wanted, key in pairs)


@dataclass(frozen=True, slots=True)
class OwnerWriteState:
    """Where one decision's owner write stands in the outbox: ``sequence`` numbers the record's writes, and a
    ``superseded`` one names the newer decision it gave way to (``superseded_by``)."""

    routing_id: str
    object_type: str
    record_id: str
    owner_id: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    channel: str
    next_attempt_at: datetime | None
    sequence: int
    version: int
    retrying_since: datetime | None
    superseded_by: str | None
    fields: dict[str, Any] | None = None  # the routing facts written beside the owner
    owner_field: str = "OwnerId"  # the user field written (a booking may name another than OwnerId)


@dataclass(frozen=True, slots=True)
class StoredRecordState:
    """A record as Baton last routed it: the newest event's time, its routing id and the owner."""

    object_type: str
    record_id: str
    last_event_at: datetime
    routing_id: str
    owner_id: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class LatestOwnerDecision:
    """A record's newest decision that named an owner, and where that owner's write stands in the outbox:
    ``write_status`` is the status of the decision's own row (None when it has none, e.g. purged), and
    ``newest_write_status`` that of the record's newest row (a write queued again after it, or the same row)."""

    object_type: str
    record_id: str
    owner_id: str
    routing_id: str
    decided_at: datetime
    write_status: str | None
    newest_write_status: str | None


@dataclass
class RecordTrace:
    """Everything the store knows about one record's routing; ``logs`` are the stored assignment logs (JSON
    documents), newest first; ``member_changes`` the admin audit's entries (oldest first) about the members the
    decisions skipped, made before the newest decision."""

    logs: list[dict[str, Any]]
    outbox: dict[str, OwnerWriteState]
    holds: list[HeldRecord]
    dead_letters: list[DeadLetter]
    configs: dict[int, datetime]
    current: StoredRecordState | None
    member_changes: list[AuditEntry] = field(default_factory=list)


@dataclass
class Figures:
    """The raw counts ``baton stats`` reports, for decisions made since a time."""

    since: datetime
    per_member: dict[tuple[str | None, str | None], int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    held_now: dict[str, int] = field(default_factory=dict)
    dead_letters: dict[str, int] = field(default_factory=dict)
    dead_letters_open: dict[str, int] = field(default_factory=dict)
    outbox: dict[str, int] = field(default_factory=dict)
    api: tuple[int, int, datetime] | None = None
    timings: list[tuple[datetime, datetime, str | None, Any]] = field(default_factory=list)


class OperationsReading(Protocol):
    """The read-only queries behind the operator commands."""

    def history(self, since: datetime, filters: LogFilter, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` logs decided at or after ``since`` that pass the filters, oldest first."""
        ...

    def record_trace(self, record_id: str) -> RecordTrace: ...

    def figures(self, since: datetime) -> Figures: ...

    def latest_owner_decisions(self, objects: Sequence[str] = (),
                               since: datetime | None = None) -> list[LatestOwnerDecision]:
        """Each record's newest decision that named an owner (decided at or after ``since``, of ``objects``),
        ordered by object type and record id."""
        ...

    def unfinished_bookings(self, final_statuses: Collection[str], objects: Sequence[str] = (),
                            since: datetime | None = None) -> list[BookingRow]:
        """Bookings whose status is none of ``final_statuses`` (created at or after ``since``, of ``objects``),
        oldest first."""
        ...
