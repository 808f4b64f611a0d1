"""What changed for members between two scheduler rounds (pure): out of office begun or ended, cap windows.

A cap counts a member's records per day, ISO week and month in the member's own time zone, under keys
named by the window (routing/selection/caps.py), so nothing is reset by hand; a new window only means a capped member
may take records again, so held records are worth re-checking. The same goes for an out-of-office end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from routing.config import OrgConfig
from routing.selection.caps import WINDOW_NAMES, limits_of
from routing.teams import Caps, Member, Team


class ChangeKind(StrEnum):
    OOO_STARTED = "out_of_office_started"
    OOO_ENDED = "out_of_office_ended"
    CAP_WINDOW = "cap_window_started"


@dataclass(frozen=True)
class MemberChange:
    kind: ChangeKind
    team: str
    member_id: str
    at: datetime
    detail: str

    @property
    def frees_capacity(self) -> bool:
        return self.kind is not ChangeKind.OOO_STARTED


def member_changes(config: OrgConfig, since: datetime, now: datetime) -> list[MemberChange]:
    """Every change in ``(since, now]``, oldest first."""
    found = [change for team in config.teams for member in team.members
             for change in _member_changes(team, member, since, now)]
    return sorted(found, key=lambda change: (change.at, change.team, change.member_id, change.kind))


def _member_changes(team: Team, member: Member, since: datetime, now: datetime) -> Iterator[MemberChange]:
    for period in member.out_of_office:
        if since < period.start <= now:
            yield MemberChange(ChangeKind.OOO_STARTED, team.name, member.id, period.start,
                               f"{period.reason} until {period.end.isoformat()}")
        if since < period.end <= now:
            yield MemberChange(ChangeKind.OOO_ENDED, team.name, member.id, period.end, f"{period.reason} ended")
    for window, start in _window_starts(_capped_windows(team, member), member.timezone, since, now):
        yield MemberChange(ChangeKind.CAP_WINDOW, team.name, member.id, start, f"new {window} cap window")


def _capped_windows(team: Team, member: Member) -> set[str]:
    """Windows any cap of this member counts in: own caps, the team's defaults, criteria caps."""
    windows = {WINDOW_NAMES[window] for window, _ in limits_of(member.caps, team.member_caps)}
    for cap in team.criteria_caps:
        windows |= {WINDOW_NAMES[window] for window, _ in limits_of(cap, Caps())}
    return windows


def _window_starts(windows: set[str], zone_name: str, since: datetime, now: datetime) -> Iterator[tuple[str, datetime]]:
    """Local midnights (day), Monday midnights (ISO week) and first-of-month midnights in ``(since, now]``."""
    if not windows or now <= since:
        return
    zone = ZoneInfo(zone_name)
    day = since.astimezone(zone).date() + timedelta(days=1)
    last = now.astimezone(zone).date()
    while day <= last:
        midnight = datetime.combine(day, datetime.min.time(), tzinfo=zone)
        if since < midnight <= now:
            if "month" in windows and day.day == 1:
                yield "month", midnight
            if "week" in windows and day.weekday() == 0:
                yield "week", midnight
            if "day" in windows:
                yield "day", midnight
        day += timedelta(days=1)
