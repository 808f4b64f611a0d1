"""Edits of the org config's members, on the config's plain data (``routing.config.config_data``): pure, and
each returns the member's values before and after so the audit can say what changed. A team or member the
config does not have raises ``UnknownTeam`` or ``UnknownMember``."""

from __future__ import annotations

from typing import Any

from routing.teams import Member

MEMBER_FIELDS = tuple(name for name in Member.model_fields if name != "id")


class NotFound(LookupError):
    """A team or member the config does not have; the message names it."""

    def __str__(self) -> str:
        return str(self.args[0])


class UnknownTeam(NotFound):
    def __init__(self, team: str):
        super().__init__(f"no team {team!r} in the routing config")


class UnknownMember(NotFound):
    def __init__(self, user_id: str, team: str | None = None):
        where = f"team {team!r}" if team is not None else "any team of the routing config"
        super().__init__(f"member {user_id!r} is not in {where}")


class MemberExists(ValueError):
    def __init__(self, user_id: str, team: str):
        super().__init__(f"member {user_id!r} is already in team {team!r}")


def _teams(data: Any) -> list[dict[str, Any]]:
    teams = data.get("teams") if isinstance(data, dict) else None
    return [team for team in teams or [] if isinstance(team, dict)]


def _members(team: dict[str, Any]) -> list[dict[str, Any]]:
    members = team.get("members")
    return [member for member in members or [] if isinstance(member, dict)]


def team_entry(data: Any, name: str) -> dict[str, Any]:
    found = next((team for team in _teams(data) if team.get("name") == name), None)
    if found is None:
        raise UnknownTeam(name)
    return found


def member_entries(data: Any, user_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Every (team name, member entry) listing ``user_id``; raises UnknownMember when no team does."""
    found = [(str(team.get("name")), member) for team in _teams(data) for member in _members(team)
             if member.get("id") == user_id]
    if not found:
        raise UnknownMember(user_id)
    return found


def _member_in(team: dict[str, Any], user_id: str) -> dict[str, Any]:
    member = next((member for member in _members(team) if member.get("id") == user_id), None)
    if member is None:
        raise UnknownMember(user_id, str(team.get("name")))
    return member


def _picked(member: dict[str, Any], keys: Any) -> dict[str, Any]:
    return {key: member.get(key) for key in keys}


def add_member(data: Any, team: str, member: dict[str, Any]) -> dict[str, Any]:
    """Adds ``member`` (its config entry) to ``team``; returns the entry."""
    entry = team_entry(data, team)
    if any(existing.get("id") == member["id"] for existing in _members(entry)):
        raise MemberExists(member["id"], team)
    entry.setdefault("members", []).append(member)
    return member


def remove_member(data: Any, team: str, user_id: str) -> dict[str, Any]:
    """Takes ``user_id`` out of ``team``; returns the entry it had."""
    entry = team_entry(data, team)
    member = _member_in(entry, user_id)
    entry["members"] = [existing for existing in entry["members"] if existing is not member]
    return member


def change_member(data: Any, team: str, user_id: str, changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Sets ``changes`` (member keys) on ``user_id`` in ``team``; a None value removes the key (its default).
    Returns the changed keys' values before and after."""
    member = _member_in(team_entry(data, team), user_id)
    before = _picked(member, changes)
    for key, value in changes.items():
        if value is None:
            member.pop(key, None)
        else:
            member[key] = value
    return before, _picked(member, changes)


def set_everywhere(data: Any, user_id: str, key: str, value: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Sets ``key`` on ``user_id`` in every team listing them (tags, out of office: the person's, not one
    team's); returns the values before and after by team."""
    before, after = {}, {}
    for team, member in member_entries(data, user_id):
        before[team] = member.get(key)
        member[key] = value
        after[team] = value
    return before, after
