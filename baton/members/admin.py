"""The member administration both the ``/v1`` admin API and ``baton member`` call: each change is made, audited
(who, what, before and after, when) and in force for the next decision this process makes.

Where a change lives: the availability toggle is the store's (``member_status``, as ``baton member unavailable``
always kept it); out of office, tags (the member's ``skills``) and team membership (weight, skills, caps, ...)
are the org config's, so each such change stores a new config version (``apply_config``: validated as ``baton
config apply`` validates) made from the version in force, and the config provider reads it at once. Other
processes see a config change within their ``BATON_CONFIG_REFRESH_MS`` and a toggle within a second.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from baton.configs import ConfigProvider, apply_config
from baton.members.edits import (
    MemberExists,
    NotFound,
    UnknownMember,
    add_member,
    change_member,
    member_entries,
    remove_member,
    set_everywhere,
)
from baton.ports import Ports
from kernel.clock import Clock
from kernel.errors import ConfigError, PermanentError
from kernel.ports.audit import Actor, AuditEntry, AuditRepository
from kernel.ports.decisions import DecisionRepository
from kernel.ports.holds import HoldRepository
from kernel.ports.operations import ConfigVersionRepository
from routing.config import OrgConfig, config_data, config_text

__all__ = ["Actor", "InvalidChange", "MemberAdmin", "MemberExists", "NoConfig", "NotFound", "UnknownMember"]

SET_AVAILABLE = "set_available"
SET_UNAVAILABLE = "set_unavailable"
SET_OUT_OF_OFFICE = "set_out_of_office"
CLEAR_OUT_OF_OFFICE = "clear_out_of_office"
SET_TAGS = "set_tags"
ADD_MEMBER = "add_member"
CHANGE_MEMBER = "change_member"
REMOVE_MEMBER = "remove_member"
_EDITS = threading.Lock()  # one config edit at a time in this process: no edit is lost to another's


class NoConfig(Exception):
    """No routing config has been applied: there are no members to change."""

    def __str__(self) -> str:
        return "no routing config has been applied: run `baton config apply CONFIG` first"


class InvalidChange(ValueError):
    """The change leaves the config invalid; ``problems`` are (path, message) pairs naming each field."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))


@dataclass(frozen=True)
class MemberAdmin:
    configs: ConfigVersionRepository
    provider: ConfigProvider
    decisions: DecisionRepository
    holds: HoldRepository
    audit: AuditRepository
    clock: Clock

    @classmethod
    def of(cls, ports: Ports) -> MemberAdmin:
        store = ports.store
        return cls(store.administration, ports.configs, store.decisions, store.holds, store.audit, ports.clock)

    def current(self) -> tuple[int, OrgConfig]:
        try:
            return self.provider.current()
        except PermanentError:
            raise NoConfig() from None

    def known(self, user_id: str) -> OrgConfig:
        """The config in force; raises UnknownMember unless one of its teams lists ``user_id``."""
        _, config = self.current()
        if not any(team.member(user_id) for team in config.teams):
            raise UnknownMember(user_id)
        return config

    def set_available(self, actor: Actor, user_id: str, available: bool, reason: str = "") -> AuditEntry:
        """The availability toggle (a logout ``reason`` when going away); someone back re-checks the holds."""
        self.known(user_id)
        with self.decisions.transaction() as unit:
            was = user_id not in unit.unavailable_members()
        now = self.clock()
        self.decisions.set_member_available(user_id, available, now)
        if available:
            self.holds.recheck_all(now)
        return self.audit.record(AuditEntry(
            now, actor, SET_AVAILABLE if available else SET_UNAVAILABLE, user_id, reason=reason,
            before={"available": was}, after={"available": available}))

    def set_out_of_office(self, actor: Actor, user_id: str, start: datetime, end: datetime,
                          reason: str = "out of office") -> AuditEntry:
        """The member is out of office from ``start`` to ``end`` (in every team listing them): replaces the
        periods the config had for them."""
        period = {"start": start.isoformat(), "end": end.isoformat(), "reason": reason}
        return self._everywhere(actor, SET_OUT_OF_OFFICE, user_id, "out_of_office", [period], reason)

    def clear_out_of_office(self, actor: Actor, user_id: str, reason: str = "") -> AuditEntry:
        return self._everywhere(actor, CLEAR_OUT_OF_OFFICE, user_id, "out_of_office", [], reason)

    def set_tags(self, actor: Actor, user_id: str, tags: list[str], reason: str = "") -> AuditEntry:
        """The member's skill tags (``skills`` in every team listing them)."""
        return self._everywhere(actor, SET_TAGS, user_id, "skills", sorted(set(tags)), reason)

    def add_member(self, actor: Actor, team: str, member: dict[str, Any], reason: str = "") -> AuditEntry:
        """Adds ``member`` (the config's member keys: id, name, weight, skills, caps, ...) to ``team``."""
        return self._edit(actor, ADD_MEMBER, str(member.get("id")), team, reason,
                          lambda data: (None, add_member(data, team, member)))

    def change_member(self, actor: Actor, team: str, user_id: str, changes: dict[str, Any],
                      reason: str = "") -> AuditEntry:
        """Sets the member keys in ``changes`` (weight, skills, caps, ...) for ``user_id`` in ``team``."""
        return self._edit(actor, CHANGE_MEMBER, user_id, team, reason,
                          lambda data: change_member(data, team, user_id, changes))

    def remove_member(self, actor: Actor, team: str, user_id: str, reason: str = "") -> AuditEntry:
        return self._edit(actor, REMOVE_MEMBER, user_id, team, reason,
                          lambda data: (remove_member(data, team, user_id), None))

    def _everywhere(self, actor: Actor, action: str, user_id: str, key: str, value: Any, reason: str) -> AuditEntry:
        def edit(data: Any) -> tuple[Any, Any]:
            member_entries(data, user_id)
            return set_everywhere(data, user_id, key, value)

        return self._edit(actor, action, user_id, None, reason, edit)

    def _edit(self, actor: Actor, action: str, user_id: str, team: str | None, reason: str,
              edit: Callable[[Any], tuple[Any, Any]]) -> AuditEntry:
        with _EDITS:
            version, _ = self.current()
            stored = self.configs.config(version)
            if stored is None:
                raise NoConfig()
            data = config_data(stored.body, f"config v{version}")
            before, after = edit(data)
            now = self.clock()
            try:
                new_version, _ = apply_config(self.configs, config_text(data), now, f"{action} {user_id}")
            except ConfigError as exc:
                raise InvalidChange(exc.problems) from None
            self.provider.refresh_now()
        return self.audit.record(AuditEntry(now, actor, action, user_id, team, reason, _plain(before),
                                            _plain(after), new_version))

    def entries(self, member_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        return self.audit.entries(member_id, limit)


def _plain(value: Any) -> Any:
    """JSON for the audit: dates and times as ISO text, sets as sorted lists."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(item) for item in value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
