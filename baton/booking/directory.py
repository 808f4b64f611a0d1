"""Who a host is for booking: calendar address, time zone, name, and the team member behind them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kernel.ports.reference_sync import SyncedReads
from routing.config import OrgConfig
from routing.teams import Member, Team


@dataclass(frozen=True)
class HostInfo:
    id: str
    name: str
    email: str | None
    time_zone: str
    member: Member | None = None
    team: Team | None = None


class UnknownHost(LookupError):
    def __init__(self, host_id: str):
        self.host_id = host_id
        super().__init__(f"user {host_id} is neither a team member nor a synced Salesforce user")


def _team_member(config: OrgConfig, host_id: str, prefer_team: str | None) -> tuple[Member, Team] | None:
    teams = sorted(config.teams, key=lambda team: team.name != prefer_team)
    for team in teams:
        member = team.member(host_id)
        if member is not None:
            return member, team
    return None


def host_info(config: OrgConfig, reference_sync: SyncedReads, host_id: str, prefer_team: str | None = None) -> HostInfo:
    """A team member of the config (the pool's own team first), else the synced Salesforce user."""
    found = _team_member(config, host_id, prefer_team)
    user = reference_sync.row("User", host_id) if found is None or not found[0].email else None
    if found is not None:
        member, team = found
        email = member.email or (user and (user.calendar_email or user.email))
        return HostInfo(member.id, member.name or member.id, email, member.timezone, member, team)
    if user is None or user.removed_reason:
        raise UnknownHost(host_id)
    return HostInfo(host_id, user.name or host_id, user.calendar_email or user.email, user.time_zone or "UTC")


def host_infos(config: OrgConfig, reference_sync: SyncedReads, host_ids: Iterable[str],
               prefer_team: str | None = None) -> dict[str, HostInfo]:
    return {host_id: host_info(config, reference_sync, host_id, prefer_team) for host_id in dict.fromkeys(host_ids)}
