"""Fairness over time for booking pools: the counting period, calibration credits, the lead
threshold and per-host meeting caps (pure: counts and meeting times in, decisions and reasons out).

- **Period**: the pool's ``reset`` (day, ISO week from Monday, calendar month) on the team's clock.
  A meeting counts in the period it was booked in (``count_by: booked``) or the one it takes place
  in (``meeting_time``).
- **Weights**: a member's *load* is their standing (meetings, plus credits when calibrating) divided
  by their weight in the team, so equal loads are equal shares of the weighted target
  ``(all meetings + credits) × weight / total weight``, as for record routing (routing.selection).
  Hosts are ordered by load; with every weight 1 the load is the meeting count.
- **Calibration**: a member's standing is meetings plus credits. When a meeting is booked, every
  member away at that moment (out of office, holiday, inactive) or new to the period is credited
  up to the *level*, the lowest load among members present and already counted (a whole number
  of meetings, rounded up), so nobody comes back to a run of meetings.
- **Lead threshold**: a member more than N of their own meetings ahead of the least-loaded present
  member (``(load - lowest load) × weight``) is not shown until the others catch up.
- **Caps**: a member's day (or ISO week) on their own clock with ``per_day`` (``per_week``)
  counted meetings is busy for new meetings; the reason names the cap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from math import ceil
from typing import Literal

from routing.booking.config import MeetingCaps, PoolSettings
from routing.booking.slots import Interval, zone

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
LEAD_THRESHOLD = "lead threshold"
CAP_REACHED = "cap reached"
RESETS = ("day", "week", "month")


def _midnight(day: date, time_zone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone(time_zone))


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _period(reset: str, day: date) -> tuple[date, date, str]:
    """First day, first day after and key of the ``reset`` period holding ``day``."""
    if reset == "day":
        return day, day + DAY, f"d{day.isoformat()}"
    if reset == "week":
        first = day - timedelta(days=day.weekday())
        iso = first.isocalendar()
        return first, first + WEEK, f"w{iso.year}-W{iso.week:02d}"
    first = day.replace(day=1)
    return first, _next_month(first), f"m{first.year}-{first.month:02d}"


def period_of(pool: PoolSettings, now: datetime, time_zone: str) -> tuple[str, Interval]:
    """The pool's current period's key and span on the team's clock."""
    return reset_period(pool.reset, now, time_zone)


def reset_period(reset: Literal["day", "week", "month"], now: datetime, time_zone: str) -> tuple[str, Interval]:
    """The current day, ISO week or calendar month's key and span on the team's clock (``w2026-W49`` and its
    Monday-to-Monday); the keys are those of record routing's periods."""
    first, after, key = _period(reset, now.astimezone(zone(time_zone)).date())
    return key, Interval(_midnight(first, time_zone), _midnight(after, time_zone))


def period_keys(day: date) -> tuple[str, ...]:
    """The keys of the day, week and month holding ``day``. Keys of one kind share their first letter and
    sort as text in time order, so a kind's keys below its key here are of periods over before ``day``."""
    return tuple(_period(reset, day)[2] for reset in RESETS)


def counted_statuses(pool: PoolSettings | None, live: Iterable[str]) -> tuple[str, ...]:
    """The booking statuses that count for fairness: live bookings, plus cancelled ones when the pool
    gives no credit back, plus no-shows unless the pool excludes them."""
    statuses = list(live)
    if pool is None or pool.no_show == "count":
        statuses.append("no_show")
    if pool is not None and pool.cancelled == "count":
        statuses.append("cancelled")
    return tuple(statuses)


def meeting_load(meetings: int, weight: int) -> Fraction:
    """Meetings per unit of weight: members with equal loads have equal shares of the weighted target."""
    if weight < 1:
        raise ValueError(f"a pool member's weight must be at least 1, got {weight}")
    return Fraction(meetings, weight)


@dataclass(frozen=True, slots=True)
class Calibration:
    """Standings (meetings + credits) to order the pool by, the credits to store with a booking, and
    the level (a load: meetings per unit of weight)."""

    standings: dict[str, int]
    credits: dict[str, int]
    level: Fraction | None


def calibrate(
    candidates: Sequence[str],
    counts: Mapping[str, int],
    credits: Mapping[str, int],
    away: Iterable[str],
    weights: Mapping[str, int] | None = None,
) -> Calibration:
    """Lift members away now, or without a credit row this period (new), to the level: the lowest
    load among present members who have one. With nobody counted yet the level is the lowest load
    among present members. A lifted member's standing is the fewest whole meetings reaching the
    level for their weight (``weights``: 1 for a member not named)."""
    weight = {host: (weights or {}).get(host, 1) for host in candidates}
    away_now = set(away)
    standing = {host: counts.get(host, 0) + credits.get(host, 0) for host in candidates}
    load = {host: meeting_load(standing[host], weight[host]) for host in candidates}
    settled = [load[host] for host in candidates if host not in away_now and host in credits]
    present = [load[host] for host in candidates if host not in away_now]
    level = min(settled) if settled else (min(present) if present else None)
    new_credits = dict.fromkeys((host for host in candidates if host not in credits), 0)
    new_credits.update({host: credits[host] for host in candidates if host in credits})
    if level is not None:
        for host in candidates:
            if (host in away_now or host not in credits) and load[host] < level:
                lifted = ceil(level * weight[host])
                new_credits[host] += lifted - standing[host]
                standing[host] = lifted
    return Calibration(standing, new_credits, level)


def lead_hidden(
    candidates: Sequence[str],
    standings: Mapping[str, int],
    threshold: int | None,
    away: Iterable[str] = (),
    weights: Mapping[str, int] | None = None,
) -> dict[str, str]:
    """Members more than ``threshold`` of their own meetings ahead of the least-loaded present member
    (loads by ``weights``, 1 for a member not named), with why."""
    if threshold is None:
        return {}
    weight = {host: (weights or {}).get(host, 1) for host in candidates}
    load = {host: meeting_load(standings.get(host, 0), weight[host]) for host in candidates}
    away_now = set(away)
    present = [load[host] for host in candidates if host not in away_now]
    if not present:
        return {}
    floor = min(present)
    ahead = {host: (load[host] - floor) * weight[host] for host in candidates}
    return {
        host: f"{LEAD_THRESHOLD}: {float(ahead[host]):g} meetings ahead of the least-loaded "
        f"member (threshold {threshold})"
        for host in candidates
        if ahead[host] > threshold
    }


@dataclass(frozen=True, slots=True)
class CapWindow:
    """One capped day or week of a host, on their clock: no new meeting may start in ``span``."""

    host_id: str
    span: Interval
    limit: int
    meetings: int
    window: str  # "day" | "week"

    def describe(self) -> str:
        first = self.span.start.date().isoformat()
        what = f"on {first}" if self.window == "day" else f"in the week of {first}"
        return f"{CAP_REACHED}: {self.window} cap {self.limit} ({self.meetings} meetings {what})"


def _day_of(moment: datetime, time_zone: str) -> date:
    return moment.astimezone(zone(time_zone)).date()


def capped_windows(
    host_id: str, time_zone: str, caps: MeetingCaps, meeting_starts: Iterable[datetime]
) -> list[CapWindow]:
    """The host's days and weeks (own clock) whose counted meetings reached a cap."""
    if caps.per_day is None and caps.per_week is None:
        return []
    days: Counter[date] = Counter(_day_of(start, time_zone) for start in meeting_starts)
    found: list[CapWindow] = []
    if caps.per_day is not None:
        for day, meetings in sorted(days.items()):
            if meetings >= caps.per_day:
                span = Interval(_midnight(day, time_zone), _midnight(day + DAY, time_zone))
                found.append(CapWindow(host_id, span, caps.per_day, meetings, "day"))
    if caps.per_week is not None:
        weeks: Counter[date] = Counter()
        for day, meetings in days.items():
            weeks[day - timedelta(days=day.weekday())] += meetings
        for monday, meetings in sorted(weeks.items()):
            if meetings >= caps.per_week:
                span = Interval(_midnight(monday, time_zone), _midnight(monday + WEEK, time_zone))
                found.append(CapWindow(host_id, span, caps.per_week, meetings, "week"))
    return found


def cap_spans(caps: MeetingCaps, start: datetime, time_zone: str) -> list[tuple[str, Interval, int]]:
    """The capped windows a meeting starting at ``start`` falls in: ``(window, span, limit)``; the
    store counts each span again when it reserves (so concurrent bookings never exceed a cap)."""
    day = _day_of(start, time_zone)
    spans: list[tuple[str, Interval, int]] = []
    if caps.per_day is not None:
        spans.append(("day", Interval(_midnight(day, time_zone), _midnight(day + DAY, time_zone)), caps.per_day))
    if caps.per_week is not None:
        monday = day - timedelta(days=day.weekday())
        spans.append(
            ("week", Interval(_midnight(monday, time_zone), _midnight(monday + WEEK, time_zone)), caps.per_week)
        )
    return spans
