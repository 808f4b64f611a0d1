"""Out of office, holidays and closed days of a team member as busy time for booking."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

from routing.availability import holiday_name
from routing.booking.slots import Interval, zone
from routing.teams import Member, Team

DAY = timedelta(days=1)


def _local_days(time_zone: str, window: Interval) -> Iterator[date]:
    tz = zone(time_zone)
    day = window.start.astimezone(tz).date()
    last = window.end.astimezone(tz).date()
    while day <= last:
        yield day
        day += DAY


def _whole_day(time_zone: str, day: date) -> Interval:
    tz = zone(time_zone)
    return Interval(
        datetime.combine(day, time(0), tzinfo=tz), datetime.combine(day + DAY, time(0), tzinfo=tz)
    )


def _clipped(interval: Interval, window: Interval) -> Interval | None:
    start = max(interval.start, window.start)
    end = min(interval.end, window.end)
    return Interval(start, end) if start < end else None


def _holidays(
    country: str | None, subdivision: str | None, time_zone: str, window: Interval
) -> list[Interval]:
    if country is None:
        return []
    return [
        _whole_day(time_zone, day)
        for day in _local_days(time_zone, window)
        if holiday_name(country, subdivision, day)
    ]


def _closed_days(team: Team, window: Interval) -> list[Interval]:
    if not team.closed_days:
        return []
    closed = set(team.closed_days)
    return [
        _whole_day(team.timezone, day)
        for day in _local_days(team.timezone, window)
        if day in closed
    ]


def unavailable_intervals(
    member: Member, team: Team | None, window: Interval
) -> tuple[Interval, ...]:
    """Busy intervals within ``window``: the member's out of office, the member's public holidays
    (whole days in the member's time zone), the team's holidays and closed days (in the team's
    time zone); the whole window for an inactive member. Not merged, in no set order."""
    if not member.active:
        return (window,)
    found: list[Interval] = [Interval(period.start, period.end) for period in member.out_of_office]
    found += _holidays(member.holiday_country, member.holiday_subdivision, member.timezone, window)
    if team is not None:
        found += _holidays(team.holiday_country, team.holiday_subdivision, team.timezone, window)
        found += _closed_days(team, window)
    clipped = (_clipped(interval, window) for interval in found)
    return tuple(interval for interval in clipped if interval is not None)
