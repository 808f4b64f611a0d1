"""From a host option (named user, record owner, account owner, pool) to a host request."""

from __future__ import annotations

from collections.abc import Sequence

from routing.booking.config import BookingSettings, HostOption
from routing.booking.pools import HostRequest
from routing.teams import Team


def resolve_host_request(
    option: HostOption,
    settings: BookingSettings,
    teams: Sequence[Team],
    *,
    record_owner_id: str | None = None,
    account_owner_id: str | None = None,
    co_hosts: Sequence[str] = (),
) -> HostRequest:
    """The candidates and mode for ``option``; ValueError naming what is missing.

    A pool offers its team's active members with a weight (a weight 0 member takes no share of the
    meetings), in the team's order, with the pool's mode and the members' weights.
    """
    co = tuple(dict.fromkeys(co_hosts))
    if option.kind == "user":
        return HostRequest((_given(option.user_id, "user_id"),), "single", co)
    if option.kind == "record_owner":
        return HostRequest((_given(record_owner_id, "the record's owner"),), "single", co)
    if option.kind == "account_owner":
        return HostRequest((_given(account_owner_id, "the matched account's owner"),), "single", co)
    team_name = _given(option.team, "team")
    try:
        pool = settings.pool(team_name)
    except KeyError:
        raise ValueError(f"team {team_name!r} is not a booking pool") from None
    team = next((team for team in teams if team.name == team_name), None)
    if team is None:
        raise ValueError(f"unknown team {team_name!r}")
    members = [member for member in team.members if member.active and member.weight and member.id not in co]
    if not members:
        raise ValueError(f"pool {team_name!r} has no active member with a weight who is not a co-host")
    return HostRequest(tuple(member.id for member in members), pool.mode, co, pool.availability_threshold_slots,
                       {member.id: member.weight for member in members if member.weight != 1})


def _given(value: str | None, what: str) -> str:
    if not value:
        raise ValueError(f"no host: {what} is not known")
    return value
