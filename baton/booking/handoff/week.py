"""The availability week as the scheduler sees it: seven days on the scheduler's own clock, past and
non-working days greyed, each day's free slots. Pure: the slots and ``now`` come in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from routing.booking.config import BookingType
from routing.booking.slots import Interval, Slot, zone

DAYS = 7


@dataclass(frozen=True)
class DaySlot:
    start: datetime
    label: str
    host_ids: tuple[str, ...]


@dataclass(frozen=True)
class Day:
    day: date
    greyed: bool
    why: str
    slots: list[DaySlot] = field(default_factory=list)


@dataclass(frozen=True)
class Week:
    monday: date
    time_zone: str
    days: list[Day]
    previous: date | None
    next: date

    @property
    def title(self) -> str:
        sunday = self.monday + timedelta(days=DAYS - 1)
        return f"{self.monday:%d %b} – {sunday:%d %b %Y}"


def first_week(now: datetime, time_zone: str) -> date:
    """The current working week's Monday; at the weekend, the next one."""
    today = now.astimezone(zone(time_zone)).date()
    monday = today - timedelta(days=today.weekday())
    return monday + timedelta(days=DAYS) if today.weekday() >= 5 else monday


def week_span(monday: date, time_zone: str, now: datetime) -> Interval:
    """The part of the week still ahead: from now (or Monday 00:00) to the next Monday, as instants."""
    tz = zone(time_zone)
    start = datetime.combine(monday, time(0), tz)
    end = datetime.combine(monday + timedelta(days=DAYS), time(0), tz)
    return Interval(max(start, now), max(end, now))


def week_view(monday: date, time_zone: str, now: datetime, booking_type: BookingType,
              slots: Sequence[Slot]) -> Week:
    tz = zone(time_zone)
    today = now.astimezone(tz).date()
    by_day: dict[date, list[DaySlot]] = {}
    for slot in slots:
        local = slot.start.astimezone(tz)
        by_day.setdefault(local.date(), []).append(DaySlot(slot.start, f"{local:%H:%M}", slot.host_ids))
    days = []
    for offset in range(DAYS):
        day = monday + timedelta(days=offset)
        if day < today:
            days.append(Day(day, True, "past"))
        elif day.weekday() not in booking_type.weekday_numbers and not by_day.get(day):
            days.append(Day(day, True, "not a working day"))
        else:
            days.append(Day(day, False, "", by_day.get(day, [])))
    previous = monday - timedelta(days=DAYS) if monday > first_week(now, time_zone) else None
    return Week(monday, time_zone, days, previous, monday + timedelta(days=DAYS))
