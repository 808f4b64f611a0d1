"""Free meeting times of one host: working hours in the host's time zone, busy time, buffers.

A slot is the meeting itself, ``[start, start + duration)``. It is open for a host when the
meeting lies inside one working day's hours (read on the host's own wall clock, so daylight-saving
changes move it correctly), when the host is free for the meeting plus its buffers (buffers may
reach outside working hours, but not into busy time), when it starts at least the minimum notice
from now and before the horizon ends, and when it starts on the slot step counted from that
day's working-hours start. Instants are handled as whole UTC seconds; busy time is rounded
outwards to whole seconds.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from routing.booking.config import BookingType

MINUTE = 60
DAY = timedelta(days=1)


def require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} {value.isoformat()} has no time zone")


@dataclass(frozen=True, slots=True)
class Interval:
    """A half-open span of time ``[start, end)``."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            require_aware(self.start, "interval start")
            require_aware(self.end, "interval end")
        if self.end < self.start:
            raise ValueError(f"interval end {self.end} is before its start {self.start}")


@dataclass(frozen=True, slots=True)
class HostSchedule:
    """One host's busy time (calendar, reservations, out of office, holidays), in any order."""

    host_id: str
    time_zone: str
    busy: tuple[Interval, ...] = ()


@dataclass(frozen=True, slots=True)
class Slot:
    """A meeting time (buffers excluded) and the hosts free for it plus its buffers."""

    start: datetime
    end: datetime
    host_ids: tuple[str, ...]


# Inclusive ranges of allowed start seconds: (anchor, low, high); anchor is the working-day start
# from which the slot step counts.
Piece = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class OpenTimes:
    """Where one host may start a meeting: sorted, disjoint pieces of start seconds."""

    host_id: str
    pieces: tuple[Piece, ...]
    lows: tuple[int, ...]

    def allows(self, start: int) -> bool:
        """Whether a meeting may start at ``start`` (any second, step ignored)."""
        index = bisect_right(self.lows, start) - 1
        return index >= 0 and start <= self.pieces[index][2]

    def grid_starts(self, step_seconds: int) -> list[int]:
        """Every start on the slot step, in order."""
        starts: list[int] = []
        for anchor, low, high in self.pieces:
            first = anchor + -((anchor - low) // step_seconds) * step_seconds
            starts.extend(range(first, high + 1, step_seconds))
        return starts


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def seconds(moment: datetime) -> int:
    return math.floor(moment.timestamp())


def seconds_up(moment: datetime) -> int:
    return math.ceil(moment.timestamp())


@lru_cache(maxsize=65536)
def instant(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def merge_intervals(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """Sorted, non-overlapping intervals covering the same time; touching ones are joined."""
    merged: list[Interval] = []
    for interval in sorted(intervals, key=lambda item: item.start):
        if merged and interval.start <= merged[-1].end:
            if interval.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, interval.end)
        else:
            merged.append(interval)
    return tuple(merged)


def working_day_bounds(booking_type: BookingType, time_zone: str, day: date) -> tuple[int, int]:
    """The working hours of ``day`` on the host's wall clock, as UTC seconds."""
    hours = booking_type.working_hours
    return _day_bounds(time_zone, day, hours.start, hours.end)


@lru_cache(maxsize=16384)
def _day_bounds(time_zone: str, day: date, start: time, end: time) -> tuple[int, int]:
    tz = zone(time_zone)
    end_day = day + DAY if end == time(0) else day
    return (
        seconds(datetime.combine(day, start, tzinfo=tz)),
        seconds(datetime.combine(end_day, end, tzinfo=tz)),
    )


def working_days(
    booking_type: BookingType, time_zone: str, low: int, high: int
) -> list[tuple[int, int]]:
    """Working-hours spans ``(start, end)`` in UTC seconds that overlap ``[low, high)``."""
    tz = zone(time_zone)
    first = datetime.fromtimestamp(low, tz).date() - DAY
    last = datetime.fromtimestamp(high, tz).date()
    weekdays = booking_type.weekday_numbers
    spans: list[tuple[int, int]] = []
    day = first
    while day <= last:
        if day.weekday() in weekdays:
            start, end = working_day_bounds(booking_type, time_zone, day)
            if end > low and start < high:
                spans.append((start, end))
        day += DAY
    return spans


def blocked_starts(booking_type: BookingType, busy: Iterable[Interval]) -> list[tuple[int, int]]:
    """Inclusive ranges of start seconds that would overlap busy time with meeting or buffers."""
    before = booking_type.buffer_before_minutes * MINUTE
    reach = (booking_type.duration_minutes + booking_type.buffer_after_minutes) * MINUTE
    ranges = sorted(
        (seconds(item.start) - reach + 1, seconds_up(item.end) + before - 1)
        for item in busy
        if item.end > item.start
    )
    merged: list[tuple[int, int]] = []
    for low, high in ranges:
        if high < low:
            continue
        if merged and low <= merged[-1][1] + 1:
            if high > merged[-1][1]:
                merged[-1] = (merged[-1][0], high)
        else:
            merged.append((low, high))
    return merged


def _subtract(
    piece: Piece, blocked: Sequence[tuple[int, int]], index: int
) -> tuple[list[Piece], int]:
    """``piece`` minus the blocked ranges from ``index`` on; returns the next index to look at."""
    anchor, low, high = piece
    pieces: list[Piece] = []
    while index < len(blocked) and blocked[index][1] < low:
        index += 1
    scan = index
    while low <= high and scan < len(blocked) and blocked[scan][0] <= high:
        block_low, block_high = blocked[scan]
        if block_low > low:
            pieces.append((anchor, low, block_low - 1))
        low = max(low, block_high + 1)
        scan += 1
    if low <= high:
        pieces.append((anchor, low, high))
    return pieces, index


def start_bounds(booking_type: BookingType, window: Interval, now: datetime) -> tuple[int, int]:
    """Inclusive bounds on start seconds: notice, horizon and the meeting inside ``window``."""
    require_aware(now, "now")
    duration = booking_type.duration_minutes * MINUTE
    low = max(
        seconds_up(window.start), seconds_up(now) + booking_type.minimum_notice_minutes * MINUTE
    )
    horizon_end = seconds(now + timedelta(days=booking_type.horizon_days))
    high = min(seconds(window.end) - duration, horizon_end - 1)
    return low, high


def open_times(booking_type: BookingType, schedule: HostSchedule, low: int, high: int) -> OpenTimes:
    """Where ``schedule``'s host may start a meeting between ``low`` and ``high`` (inclusive)."""
    duration = booking_type.duration_minutes * MINUTE
    blocked = blocked_starts(booking_type, schedule.busy)
    pieces: list[Piece] = []
    index = 0
    for day_start, day_end in working_days(booking_type, schedule.time_zone, low, high + duration):
        piece = (day_start, max(day_start, low), min(day_end - duration, high))
        if piece[1] > piece[2]:
            continue
        found, index = _subtract(piece, blocked, index)
        pieces.extend(found)
    return OpenTimes(schedule.host_id, tuple(pieces), tuple(piece[1] for piece in pieces))


def host_slot_starts(
    booking_type: BookingType, schedule: HostSchedule, window: Interval, now: datetime
) -> list[datetime]:
    """Every slot start open for one host within ``window``, in order."""
    low, high = start_bounds(booking_type, window, now)
    times = open_times(booking_type, schedule, low, high)
    return [instant(value) for value in times.grid_starts(booking_type.slot_step_minutes * MINUTE)]
