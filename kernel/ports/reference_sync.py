"""The reference-sync port: Baton's copy of Salesforce users, accounts, contacts and leads, and where each
object's sync stands, as Protocols with the typed rows that cross them.

A read row is one dataclass per object, with that object's columns. A written row is a ``SyncedWrite``: its
columns vary with what wrote it (a sync pass carries every column, a change event only the fields it names),
so they stay a mapping of column names, beside the id and version every write has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, Protocol, overload

ObjectType = Literal["User", "Account", "Contact", "Lead"]


@dataclass(frozen=True, slots=True)
class SyncPosition:
    """Where an object's sync stands: the last (SystemModstamp, Id) written, and a pending full-sync sweep."""

    object_type: str
    last_modstamp: datetime | None = None
    last_id: str | None = None
    sweep_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class SyncedWrite:
    """A record written into the copy: its id and version, and the columns it carries (``removed_reason``
    among them when the writer knows whether the record is gone)."""

    id: str
    system_modstamp: datetime
    written_at: datetime
    columns: Mapping[str, Any] = field(default_factory=dict)

    @property
    def removed_reason(self) -> str | None:
        return self.columns.get("removed_reason")


@dataclass(frozen=True, slots=True)
class SyncedUser:
    id: str
    name: str | None
    email: str | None
    is_active: bool | None
    time_zone: str | None
    calendar_email: str | None
    system_modstamp: datetime
    removed_reason: str | None
    written_at: datetime


@dataclass(frozen=True, slots=True)
class SyncedAccount:
    id: str
    name: str | None
    website: str | None
    domains: str | None
    owner_id: str | None
    last_activity_date: date | None
    number_of_employees: int | None
    annual_revenue: float | None
    system_modstamp: datetime
    removed_reason: str | None
    written_at: datetime
    owner_is_active: bool | None = None  # the owner's synced user, on reads of many accounts


@dataclass(frozen=True, slots=True)
class SyncedContact:
    id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    owner_id: str | None
    last_activity_date: date | None
    account_id: str | None
    system_modstamp: datetime
    removed_reason: str | None
    written_at: datetime
    account_name: str | None = None  # its synced account's name, on reads of many contacts


@dataclass(frozen=True, slots=True)
class SyncedLead:
    id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    owner_id: str | None
    last_activity_date: date | None
    company: str | None
    status: str | None
    system_modstamp: datetime
    removed_reason: str | None
    written_at: datetime


SyncedRow = SyncedUser | SyncedAccount | SyncedContact | SyncedLead


class SyncWrites(Protocol):
    """A sync pass's writes, inside one transaction."""

    def upsert_synced(self, object_type: str, rows: Sequence[SyncedWrite], *, newer_only: bool) -> None:
        """Writes rows of the copy, never over a newer version (by SystemModstamp). ``newer_only``: a row
        is written only over an older one (change events); else an equal version is rewritten too and
        ``written_at`` refreshed even when a newer version is kept (a full sync marks every record it saw)."""
        ...

    def sweep_synced(self, object_type: str, before: datetime, modified_until: datetime) -> int:
        """Drops rows a full sync did not rewrite (not written since ``before``, modified until
        ``modified_until``); returns how many."""
        ...

    def save_sync_position(self, position: SyncPosition, now: datetime) -> None: ...


class SyncedReads(Protocol):
    """Reads of the copy."""

    def position(self, object_type: str) -> SyncPosition | None: ...

    @overload
    def rows(self, object_type: Literal["User"], written_since: datetime | None = None) -> list[SyncedUser]: ...
    @overload
    def rows(self, object_type: Literal["Account"], written_since: datetime | None = None) -> list[SyncedAccount]: ...
    @overload
    def rows(self, object_type: Literal["Contact"], written_since: datetime | None = None) -> list[SyncedContact]: ...
    @overload
    def rows(self, object_type: Literal["Lead"], written_since: datetime | None = None) -> list[SyncedLead]: ...
    @overload
    def rows(self, object_type: str, written_since: datetime | None = None) -> list[SyncedRow]: ...
    def rows(self, object_type: str, written_since: datetime | None = None) -> Sequence[SyncedRow]:
        """Live rows of one object; accounts carry ``owner_is_active``, contacts ``account_name``. With
        ``written_since``: every row written since then, removed ones too (their ``removed_reason`` says)."""
        ...

    @overload
    def row(self, object_type: Literal["User"], record_id: str) -> SyncedUser | None: ...
    @overload
    def row(self, object_type: Literal["Account"], record_id: str) -> SyncedAccount | None: ...
    @overload
    def row(self, object_type: Literal["Contact"], record_id: str) -> SyncedContact | None: ...
    @overload
    def row(self, object_type: Literal["Lead"], record_id: str) -> SyncedLead | None: ...
    @overload
    def row(self, object_type: str, record_id: str) -> SyncedRow | None: ...
    def row(self, object_type: str, record_id: str) -> SyncedRow | None:
        """One row of the copy, live or removed (its ``removed_reason`` says)."""
        ...

    def stamp(self, object_types: Sequence[str]) -> tuple[Any, ...]:
        """Changes whenever any of these copies is written or swept: one cheap query to poll."""
        ...


class ReferenceSyncRepository(SyncedReads, Protocol):
    """The copy read and written."""

    def writes(self) -> AbstractContextManager[SyncWrites]:
        """One transaction for a batch of writes (a sync page and its position, a batch of events)."""
        ...
