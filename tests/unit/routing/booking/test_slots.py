"""Slot finding for one host: working hours on the host's clock (DST included), notice, horizon,
slot step, buffers, busy time merged from every source; booking-window problems; absences."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.booking.absences import unavailable_intervals
from routing.booking.config import BookingType
from routing.booking.slots import HostSchedule, Interval, host_slot_starts, merge_intervals
from routing.booking.window import booking_window_problems
from routing.teams import Member, Team

NOW = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # a Monday


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def local(zone: str, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone))


def meeting(**fields: Any) -> BookingType:
    return BookingType.model_validate({"name": "Intro", "duration_minutes": 30, **fields})


def starts(
    booking_type: BookingType,
    zone: str = "UTC",
    busy: tuple[Interval, ...] = (),
    window: Interval | None = None,
    now: datetime = NOW,
) -> list[datetime]:
    window = window or Interval(now, now + timedelta(days=1))
    return host_slot_starts(booking_type, HostSchedule("005A", zone, busy), window, now)


def test_slots_fill_working_hours_on_the_step_and_end_when_the_meeting_would_overrun() -> None:
    found = starts(meeting(slot_step_minutes=30))
    assert found[0] == utc(2026, 11, 23, 9, 0)
    assert found[-1] == utc(2026, 11, 23, 16, 30)
    assert len(found) == 16


@pytest.mark.parametrize(
    ("zone", "first_utc", "last_utc"),
    [
        ("America/Los_Angeles", utc(2026, 11, 23, 17, 0), utc(2026, 11, 24, 0, 30)),
        ("Europe/Berlin", utc(2026, 11, 23, 8, 0), utc(2026, 11, 23, 15, 30)),
        ("Asia/Kolkata", utc(2026, 11, 23, 3, 30), utc(2026, 11, 23, 11, 0)),
    ],
)
def test_working_hours_are_read_on_the_hosts_own_clock(
    zone: str, first_utc: datetime, last_utc: datetime
) -> None:
    window = Interval(local(zone, 2026, 11, 23), local(zone, 2026, 11, 24))
    found = starts(meeting(slot_step_minutes=30), zone, window=window, now=utc(2026, 11, 22))
    assert (found[0], found[-1]) == (first_utc, last_utc)


def test_a_dst_change_moves_the_utc_hours_but_not_the_local_ones() -> None:
    """New York leaves daylight saving time on Sunday 1 Nov 2026: 09:00 is 13:00 UTC on the
    Friday before and 14:00 UTC on the Monday after."""
    now = utc(2026, 10, 29)
    window = Interval(now, utc(2026, 11, 4))
    found = starts(meeting(slot_step_minutes=60), "America/New_York", window=window, now=now)
    by_day: dict[date, list[datetime]] = {}
    for start in found:
        by_day.setdefault(start.astimezone(ZoneInfo("America/New_York")).date(), []).append(start)
    assert by_day[date(2026, 10, 30)][0] == utc(2026, 10, 30, 13, 0)
    assert by_day[date(2026, 11, 2)][0] == utc(2026, 11, 2, 14, 0)
    assert date(2026, 10, 31) not in by_day and date(2026, 11, 1) not in by_day
    assert all(len(day) == 8 for day in by_day.values())


def test_the_day_the_clocks_go_back_has_a_25_hour_working_day() -> None:
    around_the_clock = meeting(
        duration_minutes=60,
        slot_step_minutes=60,
        working_days=["sun"],
        working_hours={"start": "00:00", "end": "24:00"},
    )
    window = Interval(
        local("America/New_York", 2026, 11, 1), local("America/New_York", 2026, 11, 2)
    )
    found = starts(around_the_clock, "America/New_York", window=window, now=utc(2026, 10, 31))
    assert len(found) == 25
    assert found[0] == utc(2026, 11, 1, 4, 0) and found[-1] == utc(2026, 11, 2, 4, 0)


def test_minimum_notice_and_horizon_bound_the_starts() -> None:
    now = utc(2026, 11, 23, 10, 7)
    booking_type = meeting(minimum_notice_minutes=60, horizon_days=2)
    found = starts(booking_type, window=Interval(now, now + timedelta(days=7)), now=now)
    assert found[0] == utc(2026, 11, 23, 11, 15)
    assert found[-1] == utc(2026, 11, 25, 10, 0)  # starts before now + 2 days (10:07)


def test_the_step_counts_from_the_working_hours_start() -> None:
    booking_type = meeting(slot_step_minutes=20, working_hours={"start": "09:10", "end": "10:30"})
    assert [start.strftime("%H:%M") for start in starts(booking_type)] == [
        "09:10",
        "09:30",
        "09:50",
    ]


def test_a_slot_needs_the_host_free_for_the_meeting_and_both_buffers() -> None:
    booking_type = meeting(buffer_before_minutes=15, buffer_after_minutes=10, slot_step_minutes=5)
    busy = (Interval(utc(2026, 11, 23, 12, 0), utc(2026, 11, 23, 13, 0)),)
    found = set(starts(booking_type, busy=busy))
    assert utc(2026, 11, 23, 11, 20) in found  # meeting to 11:50, buffer to 12:00
    assert utc(2026, 11, 23, 11, 25) not in found
    assert utc(2026, 11, 23, 13, 10) not in found  # buffer before from 12:55
    assert utc(2026, 11, 23, 13, 15) in found  # buffer before from 13:00


def test_buffers_may_reach_outside_working_hours() -> None:
    booking_type = meeting(buffer_before_minutes=30, buffer_after_minutes=30, slot_step_minutes=30)
    found = starts(booking_type)
    assert (found[0], found[-1]) == (utc(2026, 11, 23, 9, 0), utc(2026, 11, 23, 16, 30))


def test_overlapping_busy_from_several_sources_blocks_their_union() -> None:
    calendar = Interval(utc(2026, 11, 23, 10, 0), utc(2026, 11, 23, 11, 0))
    reservation = Interval(utc(2026, 11, 23, 10, 30), utc(2026, 11, 23, 12, 0))
    out_of_office = Interval(utc(2026, 11, 23, 11, 30), utc(2026, 11, 23, 12, 15))
    found = starts(meeting(), busy=(out_of_office, calendar, reservation))
    assert utc(2026, 11, 23, 9, 30) in found
    assert not [
        start for start in found if utc(2026, 11, 23, 9, 31) <= start < utc(2026, 11, 23, 12, 15)
    ]
    assert utc(2026, 11, 23, 12, 15) in found


def test_only_the_requested_window_is_searched() -> None:
    window = Interval(utc(2026, 11, 24, 10, 0), utc(2026, 11, 24, 11, 0))
    assert starts(meeting(), window=window) == [
        utc(2026, 11, 24, 10, 0),
        utc(2026, 11, 24, 10, 15),
        utc(2026, 11, 24, 10, 30),
    ]


def test_naive_datetimes_and_unknown_zones_are_refused() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        Interval(datetime(2026, 11, 23, 9), utc(2026, 11, 23, 10))
    with pytest.raises(ValueError, match="now 2026-11-23T00:00:00 has no time zone"):
        starts(meeting(), now=datetime(2026, 11, 23), window=Interval(NOW, NOW + timedelta(days=1)))
    with pytest.raises(ValueError, match="unknown time zone 'Europe/Londn'"):
        starts(meeting(), "Europe/Londn")


# --- the whole rule set against a brute-force oracle -----------------------------------------


def _oracle(
    booking_type: BookingType, zone: str, busy: list[Interval], window: Interval, now: datetime
) -> list[datetime]:
    """Every candidate minute checked one by one against the rules, in the host's zone."""
    tz = ZoneInfo(zone)
    duration = timedelta(minutes=booking_type.duration_minutes)
    before = timedelta(minutes=booking_type.buffer_before_minutes)
    after = timedelta(minutes=booking_type.buffer_after_minutes)
    found = []
    moment = window.start.replace(second=0, microsecond=0)
    while moment + duration <= window.end:
        wall = moment.astimezone(tz)
        day_start = datetime.combine(wall.date(), booking_type.working_hours.start, tzinfo=tz)
        day_end = datetime.combine(wall.date(), booking_type.working_hours.end, tzinfo=tz)
        minutes_in = (moment - day_start).total_seconds() / 60
        if (
            moment >= window.start
            and moment >= now + timedelta(minutes=booking_type.minimum_notice_minutes)
            and moment < now + timedelta(days=booking_type.horizon_days)
            and wall.strftime("%a").lower() in booking_type.working_days
            and day_start <= moment
            and moment + duration <= day_end
            and minutes_in % booking_type.slot_step_minutes == 0
            and not any(
                b.start < moment + duration + after and moment - before < b.end
                for b in busy
                if b.end > b.start  # an empty interval occupies no time
            )
        ):
            found.append(moment)
        moment += timedelta(minutes=1)
    return found


@st.composite
def busy_blocks(draw: st.DrawFn) -> list[Interval]:
    blocks = []
    for _ in range(draw(st.integers(0, 6))):
        start = NOW + timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
        blocks.append(Interval(start, start + timedelta(minutes=draw(st.integers(0, 240)))))
    return blocks


@settings(max_examples=40, deadline=None)
@given(
    zone=st.sampled_from(["UTC", "America/New_York", "Asia/Kathmandu", "Australia/Sydney"]),
    duration=st.sampled_from([15, 25, 60]),
    before=st.sampled_from([0, 5, 15]),
    after=st.sampled_from([0, 10]),
    step=st.sampled_from([5, 15, 30]),
    notice=st.sampled_from([0, 45, 600]),
    busy=busy_blocks(),
    now_offset=st.integers(0, 24 * 60),
)
def test_slots_are_exactly_the_times_the_rules_allow(
    zone: str,
    duration: int,
    before: int,
    after: int,
    step: int,
    notice: int,
    busy: list[Interval],
    now_offset: int,
) -> None:
    booking_type = meeting(
        duration_minutes=duration,
        buffer_before_minutes=before,
        buffer_after_minutes=after,
        slot_step_minutes=step,
        minimum_notice_minutes=notice,
        horizon_days=2,
    )
    now = NOW + timedelta(minutes=now_offset)
    window = Interval(NOW, NOW + timedelta(days=3))
    assert starts(booking_type, zone, tuple(busy), window, now) == _oracle(
        booking_type, zone, busy, window, now
    )


@given(st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 200)), max_size=12))
def test_merged_busy_covers_the_same_time_without_overlaps(spans: list[tuple[int, int]]) -> None:
    intervals = [
        Interval(NOW + timedelta(minutes=a), NOW + timedelta(minutes=a + n)) for a, n in spans
    ]
    merged = merge_intervals(intervals)
    assert all(left.end < right.start for left, right in pairwise(merged))

    def covered(items: Any) -> set[int]:
        return {
            m
            for item in items
            for m in range(
                int((item.start - NOW).total_seconds() // 60),
                int((item.end - NOW).total_seconds() // 60),
            )
        }

    assert covered(merged) == covered(intervals)


# --- booking-window problems (the 422 answer) -----------------------------------------------


def test_a_bookable_time_has_no_problems() -> None:
    assert booking_window_problems(meeting(), utc(2026, 11, 23, 14, 0), NOW, "Europe/London") == []


@pytest.mark.parametrize(
    ("start", "fragment"),
    [
        (utc(2026, 11, 22, 23, 0), "is in the past"),
        (utc(2026, 11, 23, 0, 10), "minimum notice"),
        (utc(2026, 12, 7, 14, 0), "booking horizon"),
        (utc(2026, 11, 28, 10, 0), "is a sat in America/New_York, not a working day"),
        (utc(2026, 11, 23, 13, 45), "not within working hours 09:00-17:00 America/New_York"),
        (utc(2026, 11, 23, 21, 45), "not within working hours"),
        (utc(2026, 11, 23, 14, 10), "not on the 15-minute slot step counted from 09:00"),
        (datetime(2026, 11, 23, 14, 0), "has no time zone"),
    ],
)
def test_a_time_outside_the_booking_window_names_the_field_and_the_rule(
    start: datetime, fragment: str
) -> None:
    booking_type = meeting(minimum_notice_minutes=30)
    problems = booking_window_problems(booking_type, start, NOW, "America/New_York")
    assert [field for field, _ in problems] == ["start"] * len(problems)
    assert any(fragment in message for _, message in problems), problems


# --- out of office and holidays as busy time ---------------------------------------------------


def test_out_of_office_and_regional_holidays_become_busy_time_in_the_window() -> None:
    member = Member.model_validate(
        {
            "id": "005A",
            "timezone": "America/New_York",
            "holiday_country": "US",
            "out_of_office": [{"start": "2026-11-20T00:00:00Z", "end": "2026-11-24T12:00:00Z"}],
        }
    )
    window = Interval(utc(2026, 11, 23), utc(2026, 11, 30))
    busy = merge_intervals(unavailable_intervals(member, None, window))
    thanksgiving = Interval(
        local("America/New_York", 2026, 11, 26), local("America/New_York", 2026, 11, 27)
    )
    assert busy == (Interval(utc(2026, 11, 23), utc(2026, 11, 24, 12)), thanksgiving)


def test_team_holidays_and_closed_days_count_in_the_teams_time_zone() -> None:
    team = Team.model_validate(
        {
            "name": "EMEA",
            "timezone": "Europe/Berlin",
            "holiday_country": "DE",
            "closed_days": ["2026-12-28"],
            "members": [{"id": "005A"}],
        }
    )
    window = Interval(utc(2026, 12, 24), utc(2026, 12, 29))
    busy = merge_intervals(unavailable_intervals(team.members[0], team, window))
    berlin = "Europe/Berlin"
    assert busy == (
        Interval(local(berlin, 2026, 12, 25), local(berlin, 2026, 12, 27)),
        Interval(local(berlin, 2026, 12, 28), local(berlin, 2026, 12, 29)),
    )


def test_an_inactive_member_is_busy_for_the_whole_window() -> None:
    member = Member.model_validate({"id": "005A", "active": False})
    window = Interval(utc(2026, 11, 23), utc(2026, 11, 24))
    assert unavailable_intervals(member, None, window) == (window,)
