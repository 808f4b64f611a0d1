"""Whether a team member may take a record at an instant, why not, and until when that holds.

Wall-clock rules (shift hours, team hours, holidays and closed days) are read in the member's or
the team's own time zone. Every answer carries ``until``: the earliest instant at which it may
change, never later than the real change, so callers can cache it and pollers know when to look
again. Daylight-saving changes are handled by never letting ``until`` cross a UTC offset change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from routing.teams import WEEKDAYS, Member, Team, WeeklyHours

MAX_VALIDITY = timedelta(hours=24)
NEXT_AVAILABLE_HORIZON_DAYS = 62
MAX_LOOKAHEAD_STEPS = 1024
HOLIDAY_CACHE_SIZE = 1024


class Unavailable(StrEnum):
    INACTIVE = "inactive"
    TOGGLED = "toggled unavailable"
    OUT_OF_OFFICE = "out of office"
    HOLIDAY = "on holiday"
    OUT_OF_SHIFT = "out of shift"
    TEAM_CLOSED = "team closed"
    OUTSIDE_TEAM_HOURS = "outside team hours"


@dataclass(frozen=True, slots=True)
class Availability:
    """``reason`` is None when available; the answer holds from the asked instant to ``until``.

    ``until`` is None when only something other than the clock can change the answer
    (an inactive member, a toggle).
    """

    reason: Unavailable | None = None
    detail: str = "available"
    until: datetime | None = None

    @property
    def available(self) -> bool:
        return self.reason is None


class LocalClock:
    """An instant read on one zone's wall clock, and wall-clock times turned back into instants."""

    __slots__ = ("zone", "now", "offset", "wall")

    def __init__(self, zone: str | ZoneInfo, now: datetime):
        self.zone = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
        self.now = now.astimezone(UTC)
        local = self.now.astimezone(self.zone)
        self.offset = local.utcoffset()
        self.wall = local.replace(tzinfo=None)

    @property
    def date(self) -> date:
        return self.wall.date()

    def instant(self, wall: datetime) -> datetime:
        """The instant this wall-clock time has while the current UTC offset lasts."""
        return (wall - self.offset).replace(tzinfo=UTC)

    def next_midnight(self) -> datetime:
        return self.instant(datetime.combine(self.date + timedelta(days=1), datetime.min.time()))

    def stable_until(self, limit: datetime) -> datetime:
        """``limit``, or the first instant before it at which this zone's UTC offset changes."""
        if limit.astimezone(self.zone).utcoffset() == self.offset:
            return limit
        low = int(self.now.timestamp())  # offset changes happen on whole seconds
        high = int(limit.timestamp()) + 1
        while high - low > 1:
            middle = (low + high) // 2
            if datetime.fromtimestamp(middle, self.zone).utcoffset() == self.offset:
                low = middle
            else:
                high = middle
        return datetime.fromtimestamp(high, UTC)


@lru_cache(maxsize=HOLIDAY_CACHE_SIZE)
def _holiday_names(country: str, subdivision: str | None, year: int) -> dict[date, str]:
    calendar = holidays.country_holidays(country, subdiv=subdivision, years=year)
    return dict(calendar.items())


def holiday_name(country: str, subdivision: str | None, day: date) -> str | None:
    """The public holiday on ``day`` in that region, or None (sets cached per region and year)."""
    return _holiday_names(country, subdivision, day.year).get(day)


def _weekly_status(hours: WeeklyHours, wall: datetime) -> tuple[bool, datetime | None]:
    """Inside one of the ranges at ``wall``, and the next wall-clock time that may change that."""
    today = wall.date()
    now_time = wall.time()
    ends: list[datetime] = []
    for span in hours.get(WEEKDAYS[today.weekday()], []):
        if span.start <= now_time and (span.ends_at_midnight or now_time < span.end):
            end_day = today + timedelta(days=1) if span.ends_at_midnight else today
            ends.append(datetime.combine(end_day, span.end))
    if ends:
        return True, min(ends)
    for days_ahead in range(len(WEEKDAYS) + 1):
        day = today + timedelta(days=days_ahead)
        starts = [
            datetime.combine(day, span.start)
            for span in hours.get(WEEKDAYS[day.weekday()], [])
            if datetime.combine(day, span.start) > wall
        ]
        if starts:
            return False, min(starts)
    return False, None


def _within_hours(
    hours: WeeklyHours, clock: LocalClock, limit: datetime
) -> tuple[bool, datetime]:
    """Inside the weekly hours now, and ``limit`` moved up to the next boundary of those hours."""
    inside, boundary = _weekly_status(hours, clock.wall)
    if boundary is not None:
        limit = min(limit, clock.instant(boundary))
    return inside, limit


def _clock_limit(clock: LocalClock, limit: datetime) -> datetime:
    return min(limit, clock.stable_until(limit))


def member_status(member: Member, now: datetime) -> Availability:
    """The member's own availability (out of office, holidays, shifts); no toggles, no team."""
    if not member.active:
        return Availability(Unavailable.INACTIVE, "inactive")
    limit = now.astimezone(UTC) + MAX_VALIDITY
    for period in member.out_of_office:
        if period.start <= now < period.end:
            detail = f"{period.reason} until {period.end.isoformat()}"
            return Availability(Unavailable.OUT_OF_OFFICE, detail, period.end)
        if now < period.start:
            limit = min(limit, period.start)
    clock = LocalClock(member.timezone, now)
    limit = _clock_limit(clock, limit)
    if member.holiday_country:
        name = holiday_name(member.holiday_country, member.holiday_subdivision, clock.date)
        limit = min(limit, clock.next_midnight())
        if name:
            return Availability(Unavailable.HOLIDAY, f"on holiday {name!r}", limit)
    if member.shifts is not None:
        inside, limit = _within_hours(member.shifts, clock, limit)
        if not inside:
            return Availability(Unavailable.OUT_OF_SHIFT, "out of shift", limit)
    return Availability(until=limit)


def team_status(team: Team, now: datetime) -> Availability:
    """Whether the team distributes at all now: closed days, team holidays, distribution hours."""
    clock = LocalClock(team.timezone, now)
    limit = _clock_limit(clock, now.astimezone(UTC) + MAX_VALIDITY)
    if team.closed_days or team.holiday_country:
        limit = min(limit, clock.next_midnight())
        if clock.date in team.closed_days:
            return Availability(Unavailable.TEAM_CLOSED, f"team closed on {clock.date}", limit)
        if team.holiday_country:
            name = holiday_name(team.holiday_country, team.holiday_subdivision, clock.date)
            if name:
                detail = f"team closed for holiday {name!r}"
                return Availability(Unavailable.TEAM_CLOSED, detail, limit)
    if team.hours is not None:
        inside, limit = _within_hours(team.hours, clock, limit)
        if not inside:
            return Availability(Unavailable.OUTSIDE_TEAM_HOURS, "outside team hours", limit)
    return Availability(until=limit)


def _earliest(first: datetime | None, second: datetime | None) -> datetime | None:
    if first is None:
        return second
    if second is None:
        return first
    return min(first, second)


def availability(
    member: Member, now: datetime, *, team: Team | None = None, toggled_off: bool = False
) -> Availability:
    """Available, or the first reason not to be: inactive, toggle, team, out of office, holiday,
    shift. ``toggled_off`` is the availability toggle (the caller's set of unavailable members)."""
    if not member.active:
        return Availability(Unavailable.INACTIVE, "inactive")
    if toggled_off:
        return Availability(Unavailable.TOGGLED, "toggled unavailable")
    team_answer = team_status(team, now) if team is not None else Availability()
    if not team_answer.available:
        return team_answer
    own = member_status(member, now)
    if not own.available:
        return own
    return Availability(until=_earliest(team_answer.until, own.until))


def next_available_at(
    member: Member,
    now: datetime,
    *,
    team: Team | None = None,
    toggled_off: bool = False,
    horizon_days: int = NEXT_AVAILABLE_HORIZON_DAYS,
) -> datetime | None:
    """The first instant from ``now`` at which the member is available, or None when the clock
    alone will not make them available within ``horizon_days`` (inactive, toggled off)."""
    horizon = now + timedelta(days=horizon_days)
    moment = now
    for _ in range(MAX_LOOKAHEAD_STEPS):
        answer = availability(member, moment, team=team, toggled_off=toggled_off)
        if answer.available:
            return moment
        if answer.until is None or answer.until > horizon:
            return None
        moment = answer.until
    return None
