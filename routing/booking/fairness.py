"""Fairness over time for booking pools: the counting period, calibration credits, the lead
threshold and per-host meeting caps (pure: counts and meeting times in, decisions and reasons out).

- **Period**: the pool's ``reset`` (day, ISO week from Monday, calendar month) on the team's clock.
  A meeting counts in the period it was booked in (``count_by: booked``) or the one it takes place
  in (``meeting_time``).
- **Calibration**: a member's standing is meetings plus credits. When a meeting is booked, every
  member away at that moment (out of office, holiday, inactive) or new to the period is credited
  up to the *level*, the lowest standing among members present and already counted, so nobody
  comes back to a run of meetings.
- **Lead threshold**: a member more than N meetings ahead of the least-loaded present member is
  not shown until the others catch up.
- **Caps**: a member's day (or ISO week) on their own clock with ``per_day`` (``per_week``)
  counted meetings is busy for new meetings; the reason names the cap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from routing.booking.config import MeetingCaps, PoolSettings
from routing.booking.slots import Interval, zone

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
LEAD_THRESHOLD = "lead threshold"
CAP_REACHED = "cap reached"


def _midnight(day: date, time_zone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone(time_zone))


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def period_of(pool: PoolSettings, now: datetime, time_zone: str) -> tuple[str, Interval]:
    """The pool's current period's key and span on the team's clock."""
    return reset_period(pool.reset, now, time_zone)


def reset_period(reset: Literal["day", "week", "month"], now: datetime, time_zone: str) -> tuple[str, Interval]:
    """The current day, ISO week or calendar month's key and span on the team's clock (``w2026-W49`` and its
    Monday-to-Monday); the keys are those of record routing's periods."""
    local = now.astimezone(zone(time_zone)).date()
    if reset == "day":
        first, after, key = local, local + DAY, f"d{local.isoformat()}"
    elif reset == "week":
        first = local - timedelta(days=local.weekday())
        iso = first.isocalendar()
        after, key = first + WEEK, f"w{iso.year}-W{iso.week:02d}"
    else:
        first = local.replace(day=1)
        after, key = _next_month(first), f"m{first.year}-{first.month:02d}"
    return key, Interval(_midnight(first, time_zone), _midnight(after, time_zone))


def counted_statuses(pool: PoolSettings | None, live: Iterable[str]) -> tuple[str, ...]:
    """The booking statuses that count for fairness: live bookings, plus cancelled ones when the pool
    gives no credit back, plus no-shows unless the pool excludes them."""
    statuses = list(live)
    if pool is None or pool.no_show == "count":
        statuses.append("no_show")
    if pool is not None and pool.cancelled == "count":
        statuses.append("cancelled")
    return tuple(statuses)


@dataclass(frozen=True, slots=True)
class Calibration:
    """Standings (meetings + credits) to order the pool by, and the credits to store with a booking."""

    standings: dict[str, int]
    credits: dict[str, int]
    level: int | None


def calibrate(
    candidates: Sequence[str],
    counts: Mapping[str, int],
    credits: Mapping[str, int],
    away: Iterable[str],
) -> Calibration:
    """Lift members away now, or without a credit row this period (new), to the level: the lowest
    standing among present members who have one. With nobody counted yet the level is the lowest
    standing among present members."""
    away_now = set(away)
    standing = {host: counts.get(host, 0) + credits.get(host, 0) for host in candidates}
    settled = [standing[host] for host in candidates if host not in away_now and host in credits]
    present = [standing[host] for host in candidates if host not in away_now]
    level = min(settled) if settled else (min(present) if present else None)
    new_credits = dict.fromkeys((host for host in candidates if host not in credits), 0)
    new_credits.update({host: credits[host] for host in candidates if host in credits})
    if level is not None:
        for host in candidates:
            if (host in away_now or host not in credits) and standing[host] < level:
                new_credits[host] += level - standing[host]
                standing[host] = level
    return Calibration(standing, new_credits, level)


def lead_hidden(
    candidates: Sequence[str], standings: Mapping[str, int], threshold: int | None, away: Iterable[str] = ()
) -> dict[str, str]:
    """Members more than ``threshold`` meetings ahead of the least-loaded present member, with why."""
    if threshold is None:
        return {}
    away_now = set(away)
    present = [standings.get(host, 0) for host in candidates if host not in away_now]
    if not present:
        return {}
    floor = min(present)
    return {
        host: f"{LEAD_THRESHOLD}: {standings.get(host, 0) - floor} meetings ahead of the least-loaded "
        f"member (threshold {threshold})"
        for host in candidates
        if standings.get(host, 0) - floor > threshold
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
