"""The admin audit port (issue 22): every change made to a member through the admin API or ``baton member``,
who made it, what it changed and when, as a Protocol with the typed rows that cross it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change: a token's id and name, or ``cli`` and the OS user who ran ``baton member``."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change: ``before`` and ``after`` are the member's values it changed (None: there was none, or none
    is left); ``config_version`` is the org config version it produced (None: the change is kept in the store)."""

    at: datetime
    actor: Actor
    action: str
    member_id: str | None
    team: str | None = None
    reason: str = ""
    before: Any = None
    after: Any = None
    config_version: int | None = None
    id: int | None = None


class AuditRepository(Protocol):
    def record(self, entry: AuditEntry) -> AuditEntry:
        """Stores the entry; returns it with its id."""
        ...

    def entries(self, member_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The newest ``limit`` entries (of one member when given), newest first."""
        ...

    def latest_before(self, member_ids: Collection[str], before: datetime) -> dict[str, AuditEntry]:
        """Each member's newest entry made at or before ``before`` (members with none are left out)."""
        ...
