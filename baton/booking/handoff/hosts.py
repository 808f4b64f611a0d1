"""The host panel: the suggested host first, then the pools, their members and the other options the
object's host settings offer; and the panel's form values back to a host option. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from routing.booking.config import BookingSettings, HostOption
from routing.booking.suggest import Suggestion
from routing.config import OrgConfig

MODE_TEXT = {
    "manual": "you pick the member",
    "pooled": "any free member; the one with the fewest meetings gets it",
    "round_robin": "round robin by meetings, widened to meet the availability threshold",
}


class BadHostChoice(ValueError):
    """The form's host value names no host option."""


@dataclass(frozen=True)
class HostChoice:
    value: str
    label: str
    detail: str
    option: HostOption
    pool_member_id: str | None = None
    suggested: bool = False
    group: str = ""


def encode(option: HostOption, pool_member_id: str | None = None) -> str:
    if option.kind == "pool":
        return f"member:{option.team}:{pool_member_id}" if pool_member_id else f"pool:{option.team}"
    if option.kind == "user":
        return f"user:{option.user_id}"
    return option.kind


def parse_host(value: str) -> tuple[HostOption, str | None]:
    """``pool:TEAM``, ``member:TEAM:ID`` (a manual pool's member), ``user:ID``, ``record_owner`` or
    ``account_owner``."""
    kind, _, rest = value.partition(":")
    try:
        if kind == "pool" and rest:
            return HostOption(kind="pool", team=rest), None
        if kind == "member" and ":" in rest:
            team, _, member = rest.rpartition(":")
            return HostOption(kind="pool", team=team), member
        if kind == "user" and rest:
            return HostOption(kind="user", user_id=rest), None
        if kind in ("record_owner", "account_owner") and not rest:
            return HostOption(kind=kind), None  # type: ignore[arg-type]
    except ValueError:
        pass
    raise BadHostChoice(f"host: {value!r} is not a host choice")


def _offered_pools(settings: BookingSettings, object_type: str) -> list[str]:
    offered = settings.for_object(object_type)
    return offered.pools or [pool.team for pool in settings.pools]


def _pool_choices(config: OrgConfig, object_type: str, team_name: str, users_allowed: bool) -> list[HostChoice]:
    settings = config.booking
    pool = settings.pool(team_name)
    team = config.team(team_name)
    option = HostOption(kind="pool", team=team_name)
    choices = [HostChoice(encode(option), f"{team_name} pool", MODE_TEXT[pool.mode], option, group=team_name)]
    for member in team.members:
        if not member.active:
            continue
        detail = member.timezone
        if pool.mode == "manual":
            choices.append(HostChoice(encode(option, member.id), member.name or member.id, detail, option,
                                      member.id, group=team_name))
        elif users_allowed:
            user = HostOption(kind="user", user_id=member.id)
            choices.append(HostChoice(encode(user), member.name or member.id, detail, user, group=team_name))
    return choices


def host_choices(config: OrgConfig, object_type: str, suggestion: Suggestion,
                 owner_names: dict[str, str] | None = None) -> list[HostChoice]:
    """Every choice in the panel's order, the suggestion first and marked; only it when locked.
    ``owner_names`` labels the record and account owner choices (e.g. ``{"record_owner": "Ann"}``)."""
    settings = config.booking
    offered = settings.for_object(object_type)
    names = owner_names or {}
    choices: list[HostChoice] = []
    for kind in offered.host_options:
        if kind == "pool" or (kind == "user" and "pool" not in offered.host_options):
            for team in _offered_pools(settings, object_type):
                choices += _pool_choices(config, object_type, team, "user" in offered.host_options)
        elif kind in ("record_owner", "account_owner"):
            label = "Record owner" if kind == "record_owner" else "Account owner"
            option = HostOption(kind=kind)
            choices.append(HostChoice(kind, label, names.get(kind, ""), option, group="Record"))
    suggested_value = encode(suggestion.host)
    found = next((choice for choice in choices if choice.value == suggested_value), None)
    label, detail = (found.label, found.detail) if found else _describe(config, suggestion.host, names)
    suggested = HostChoice(suggested_value, label, detail, suggestion.host, suggested=True, group="Suggested")
    if suggestion.host_locked:
        return [suggested]
    unique: dict[str, HostChoice] = {suggested.value: suggested}
    for choice in choices:
        unique.setdefault(choice.value, choice)
    return list(unique.values())


def _describe(config: OrgConfig, option: HostOption, names: dict[str, str]) -> tuple[str, str]:
    """A host option outside the listed choices: a named user by their team name and time zone."""
    if option.kind == "user" and option.user_id:
        for team in config.teams:
            member = team.member(option.user_id)
            if member is not None:
                return member.name or member.id, member.timezone
        return names.get(option.user_id, option.user_id), ""
    return option.describe(), names.get(option.kind, "")
