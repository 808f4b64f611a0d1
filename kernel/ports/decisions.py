"""Decisions and team state: what the assign stage reads and writes in one unit of work (team states locked,
assignments, record states, sticky owners, holds, owner writes queued), the repository that keeps them, and the
rows that cross it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from kernel.ports.holds import HeldRecord

JsonObject = dict[str, Any]
RecordKey = tuple[str, str]  # (object type, record id)
StickyKey = tuple[str, str]  # (team, sticky key)


@dataclass(frozen=True, slots=True)
class RecordState:
    """The newest event Baton routed for a record, and the record's owner as Baton last knew it."""

    last_event_at: datetime
    routing_id: str
    owner_id: str | None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A member rejected a record (it was routed again without them): when, in which team, why."""

    object_type: str
    record_id: str
    member_id: str
    team: str | None
    reason: str
    rejected_at: datetime
    routing_id: str | None = None  # the re-route's: the same request again is the same rejection


@dataclass(frozen=True, slots=True)
class RecordStateUpdate:
    """A record's new state; stored only if no newer event's state is there already."""

    object_type: str
    record_id: str
    last_event_at: datetime
    routing_id: str
    owner_id: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Assignment:
    """A stored decision; ``log`` is its whole assignment log, stored as JSON (a dict, or a model the store
    encodes itself)."""

    routing_id: str
    record_id: str
    object_type: str
    outcome: str
    owner_id: str | None
    team: str | None
    method: str | None
    config_version: int | None
    log: object
    event_at: datetime
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class Decision:
    """The few columns of a stored assignment that a job's progress and summary need."""

    outcome: str
    owner_id: str | None
    team: str | None


@dataclass(frozen=True, slots=True)
class TeamStateUpdate:
    """A team's new selection state, and how many decisions were added to its count."""

    team: str
    state: JsonObject
    decisions: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OwnerWrite:
    """A new owner to write to Salesforce, queued (pending) in the outbox with the decision; ``fields`` are the
    decision's facts mapped to the object's fields (the org config's ``writeback``), written in the same call."""

    routing_id: str
    object_type: str
    record_id: str
    owner_id: str
    channel: str
    created_at: datetime
    fields: JsonObject | None = None
    owner_field: str = "OwnerId"  # the record's user field written: OwnerId, or a booking's chosen host field


@dataclass(frozen=True, slots=True)
class StickyOwner:
    """Who last got a record for a team's sticky key (an account, an email domain), and when."""

    team: str
    sticky_key: str
    owner_id: str
    assigned_at: datetime


@dataclass(frozen=True, slots=True)
class DecisionRows:
    """Everything one assign round changes besides holds and sticky owners."""

    team_states: list[TeamStateUpdate]
    assignments: list[Assignment]
    record_states: list[RecordStateUpdate]
    owner_writes: list[OwnerWrite]


class DecisionReader(Protocol):
    """What deciding reads besides the locked team states (a dry run reads only this)."""

    def record_states(self, keys: Iterable[RecordKey]) -> dict[RecordKey, RecordState]: ...

    def sticky_owners(self, keys: Iterable[StickyKey]) -> dict[StickyKey, StickyOwner]: ...

    def meeting_counts(self, host_ids: Iterable[str], since: datetime, until: datetime, *, by: str,
                       statuses: Sequence[str]) -> dict[str, int]:
        """Meetings each host hosted in ``[since, until)``."""
        ...

    def rejections(self, keys: Iterable[RecordKey]) -> dict[RecordKey, list[Rejection]]:
        """Each record's rejections, oldest first (records nobody rejected are absent)."""
        ...

    def unavailable_members(self) -> set[str]:
        """User ids toggled unavailable."""
        ...

    def queued(self, team: str, limit: int, *, lock: bool = False) -> list[HeldRecord]:
        """The records waiting in ``team``'s pull queue (oldest first, at most ``limit``); with ``lock`` each is
        locked until the unit ends and rows another unit has locked are skipped, so two pulls never decide the
        same record."""
        ...


class DecisionUnit(DecisionReader, Protocol):
    """The assign stage's unit of work: its reads and writes, all in one transaction."""

    def decided(self, routing_ids: Iterable[str]) -> dict[str, JsonObject]:
        """Assignment logs already stored for these routing ids (a redelivery finds them here)."""
        ...

    def lock_team_states(self, teams: Iterable[str], now: datetime) -> dict[str, JsonObject]:
        """Each team's selection state, locked until the unit ends."""
        ...

    def hold_times(self, routing_ids: Iterable[str]) -> dict[str, datetime]:
        """When each of these held records was first held."""
        ...

    def save_assignments(self, rows: Sequence[Assignment]) -> None: ...

    def replace_held_assignments(self, rows: Sequence[Assignment]) -> None:
        """A re-checked hold's new decision; raises TransientError if another worker decided it first."""
        ...

    def save_record_states(self, rows: Sequence[RecordStateUpdate]) -> None: ...

    def save_sticky_owners(self, rows: Sequence[StickyOwner]) -> None: ...

    def save_holds(self, rows: Sequence[HeldRecord]) -> None:
        """New holds; a hold already stored gets the new reason, re-check time and context, one check more."""
        ...

    def release_holds(self, routing_ids: Iterable[str]) -> None: ...

    def queue_owner_writes(self, rows: Sequence[OwnerWrite]) -> None:
        """Outbox rows, pending; one already queued for a routing id is kept."""
        ...

    def save_decisions(self, rows: DecisionRows) -> None: ...


class DecisionRepository(Protocol):
    """Stored decisions, team state and member availability."""

    def transaction(self) -> AbstractContextManager[DecisionUnit]: ...

    def reader(self) -> AbstractContextManager[DecisionReader]:
        """Reads only, on one connection, nothing cached from earlier units; rolled back at the end."""
        ...

    def assignment_logs(self, routing_ids: Iterable[str]) -> dict[str, JsonObject]: ...

    def latest_routed_log(self, object_type: str, record_id: str, skip_method: str = "booking") -> JsonObject | None:
        """The newest decision's log for a record made by routing (not by a booking), or None."""
        ...

    def count_assignments(self) -> int: ...

    def owner_counts(self) -> dict[str, int]:
        """Owner id -> records assigned to them."""
        ...

    def team_decisions(self, team: str) -> int: ...

    def team_state(self, team: str) -> JsonObject | None: ...

    def set_member_available(self, user_id: str, available: bool, now: datetime) -> None: ...

    def stored_decisions(self, routing_ids: Sequence[str]) -> dict[str, Decision]:
        """Stored decisions among these routing ids (outcome, owner, team only; no logs)."""
        ...

    def add_rejection(self, rejection: Rejection, daily_limit: int, day_start: datetime) -> int | None:
        """Stores the rejection unless the member already made ``daily_limit`` (> 0) since ``day_start``: then
        nothing is stored and their count is returned (None: stored, or stored before under its routing id).
        Atomic per member."""
        ...

    def rejecter_of(self, routing_id: str) -> str | None:
        """Who made the rejection stored under ``routing_id`` (None: none is)."""
        ...
