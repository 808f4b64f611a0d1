"""Availability: shifts in the member's own time zone (DST included), team hours, out of office,
holidays by region, toggles; and ``until``, the instant an answer may change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from routing import availability as avail
from routing.availability import Unavailable, availability, next_available_at, team_status
from routing.teams import WEEKDAYS, Member, Team

NINE_TO_FIVE = [{"start": "09:00", "end": "17:00"}]
WEEKDAYS_9_TO_5 = {day: NINE_TO_FIVE for day in WEEKDAYS[:5]}


def member(**fields: Any) -> Member:
    return Member.model_validate({"id": "005A", "name": "Ann", **fields})


def team(**fields: Any) -> Team:
    return Team.model_validate({"name": "sales", "members": [{"id": "005A"}], **fields})


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "instant", "available"),
    [
        # Berlin, Friday 25 Oct 2024 (CEST, UTC+2): 09:00-17:00 local is 07:00-15:00 UTC
        ("Europe/Berlin", utc(2024, 10, 25, 6, 59), False),
        ("Europe/Berlin", utc(2024, 10, 25, 7, 0), True),
        ("Europe/Berlin", utc(2024, 10, 25, 14, 59), True),
        ("Europe/Berlin", utc(2024, 10, 25, 15, 0), False),
        # Berlin, Monday 28 Oct 2024 (CET, UTC+1 after the last Sunday of October)
        ("Europe/Berlin", utc(2024, 10, 28, 7, 30), False),
        ("Europe/Berlin", utc(2024, 10, 28, 8, 0), True),
        ("Europe/Berlin", utc(2024, 10, 28, 15, 30), True),
        ("Europe/Berlin", utc(2024, 10, 28, 16, 0), False),
        # Berlin, Friday 29 Mar 2024 (CET) and Monday 1 Apr 2024 (CEST, after the last Sunday)
        ("Europe/Berlin", utc(2024, 3, 29, 8, 0), True),
        ("Europe/Berlin", utc(2024, 3, 29, 7, 30), False),
        ("Europe/Berlin", utc(2024, 4, 1, 7, 0), True),
        ("Europe/Berlin", utc(2024, 4, 1, 15, 30), False),
        # New York, Friday 8 Mar 2024 (EST, UTC-5) and Monday 11 Mar 2024 (EDT, UTC-4)
        ("America/New_York", utc(2024, 3, 8, 13, 30), False),
        ("America/New_York", utc(2024, 3, 8, 14, 0), True),
        ("America/New_York", utc(2024, 3, 11, 13, 0), True),
        ("America/New_York", utc(2024, 3, 11, 21, 0), False),
    ],
)
def test_shift_hours_follow_the_members_wall_clock_across_dst(
    zone: str, instant: datetime, available: bool
) -> None:
    answer = availability(member(timezone=zone, shifts=WEEKDAYS_9_TO_5), instant)
    assert answer.available is available
    if not available:
        assert answer.reason == Unavailable.OUT_OF_SHIFT


def _follow_changes(subject: Member, start: datetime, end: datetime) -> list[tuple[datetime, bool]]:
    """Every instant at which the answer changes, found by following ``until``."""
    changes: list[tuple[datetime, bool]] = []
    moment, previous = start, None
    while moment < end:
        answer = availability(subject, moment)
        if answer.available != previous:
            changes.append((moment.astimezone(UTC), answer.available))
            previous = answer.available
        assert answer.until is not None and answer.until > moment
        moment = answer.until
    return changes


@pytest.mark.parametrize(
    ("zone", "shift", "start", "end", "expected"),
    [
        pytest.param(
            "Europe/Berlin",
            {"sun": [{"start": "01:00", "end": "04:00"}]},
            utc(2024, 3, 30, 22),
            utc(2024, 3, 31, 6),
            [
                (utc(2024, 3, 30, 22), False),
                (utc(2024, 3, 31, 0), True),
                (utc(2024, 3, 31, 2), False),
            ],
            id="berlin-spring-forward: 01:00 CET to 04:00 CEST lasts two hours",
        ),
        pytest.param(
            "Europe/Berlin",
            {"sun": [{"start": "00:00", "end": "06:00"}]},
            utc(2024, 10, 26, 20),
            utc(2024, 10, 27, 8),
            [
                (utc(2024, 10, 26, 20), False),
                (utc(2024, 10, 26, 22), True),
                (utc(2024, 10, 27, 5), False),
            ],
            id="berlin-fall-back: 00:00 CEST to 06:00 CET lasts seven hours",
        ),
        pytest.param(
            "America/New_York",
            {"sun": [{"start": "06:00", "end": "08:00"}]},
            utc(2024, 3, 10, 5),
            utc(2024, 3, 10, 14),
            [
                (utc(2024, 3, 10, 5), False),
                (utc(2024, 3, 10, 10), True),
                (utc(2024, 3, 10, 12), False),
            ],
            id="new-york-spring-forward: 06:00 EDT on the day clocks change",
        ),
    ],
)
def test_shift_changes_happen_at_wall_clock_boundaries_on_dst_days(
    zone: str,
    shift: dict[str, Any],
    start: datetime,
    end: datetime,
    expected: list[tuple[datetime, bool]],
) -> None:
    """Following ``until`` from answer to answer finds exactly the local-time boundaries."""
    assert _follow_changes(member(timezone=zone, shifts=shift), start, end) == expected


def test_several_ranges_a_day_and_a_shift_ending_at_midnight() -> None:
    split = member(
        shifts={
            "mon": [
                {"start": "08:00", "end": "12:00"},
                {"start": "13:00", "end": "17:00"},
                {"start": "20:00", "end": "24:00"},
            ]
        }
    )
    assert _follow_changes(split, utc(2024, 5, 6, 0), utc(2024, 5, 7, 3)) == [
        (utc(2024, 5, 6, 0), False),
        (utc(2024, 5, 6, 8), True),
        (utc(2024, 5, 6, 12), False),
        (utc(2024, 5, 6, 13), True),
        (utc(2024, 5, 6, 17), False),
        (utc(2024, 5, 6, 20), True),
        (utc(2024, 5, 7, 0), False),
    ]


def test_members_in_three_time_zones_have_different_hours_at_one_instant() -> None:
    """09:00-17:00 everywhere; 2024-05-06 08:00 UTC is 10:00 Berlin, 04:00 New York, 17:00 Tokyo."""
    instant = utc(2024, 5, 6, 8)
    answers = {
        zone: availability(member(timezone=zone, shifts=WEEKDAYS_9_TO_5), instant).available
        for zone in ("Europe/Berlin", "America/New_York", "Asia/Tokyo")
    }
    assert answers == {"Europe/Berlin": True, "America/New_York": False, "Asia/Tokyo": False}


@pytest.mark.parametrize(
    ("country", "subdivision", "instant", "holiday"),
    [
        ("DE", "BY", utc(2024, 12, 25, 12), "Christmas Day"),
        ("DE", "BY", utc(2024, 1, 6, 12), "Epiphany"),
        ("DE", "BE", utc(2024, 1, 6, 12), None),
        ("US", "CA", utc(2024, 7, 4, 18), "Independence Day"),
        ("GB", "SCT", utc(2024, 11, 30, 12), "Saint Andrew's Day"),
        ("GB", "ENG", utc(2024, 11, 30, 12), None),
    ],
)
def test_regional_holidays_by_country_and_subdivision(
    country: str, subdivision: str, instant: datetime, holiday: str | None
) -> None:
    answer = availability(
        member(holiday_country=country, holiday_subdivision=subdivision), instant
    )
    if holiday is None:
        assert answer.available
    else:
        assert answer.reason == Unavailable.HOLIDAY
        assert answer.detail == f"on holiday {holiday!r}"


def test_holiday_is_the_members_local_date() -> None:
    """2023-12-31 16:00 UTC is already New Year's Day in Tokyo, still New Year's Eve in London."""
    instant = utc(2023, 12, 31, 16)
    tokyo = member(timezone="Asia/Tokyo", holiday_country="JP")
    london = member(timezone="Europe/London", holiday_country="GB")
    assert availability(tokyo, instant).reason == Unavailable.HOLIDAY
    assert availability(london, instant).available
    assert availability(tokyo, instant).until == utc(2024, 1, 1, 15)  # Tokyo midnight


def test_holiday_sets_are_cached_per_region_and_year() -> None:
    avail._holiday_names.cache_clear()
    for hour in range(5):
        avail.holiday_name("FR", None, datetime(2024, 7, 14, hour).date())
    info = avail._holiday_names.cache_info()
    assert (info.misses, info.hits) == (1, 4)


def test_out_of_office_is_half_open_and_until_is_its_end() -> None:
    away = member(
        out_of_office=[
            {"start": "2024-05-06T10:00:00+02:00", "end": "2024-05-08T09:00:00+02:00"}
        ]
    )
    assert availability(away, utc(2024, 5, 6, 7, 59)).available
    inside = availability(away, utc(2024, 5, 6, 8))
    assert inside.reason == Unavailable.OUT_OF_OFFICE
    assert inside.until == datetime(2024, 5, 8, 9, tzinfo=ZoneInfo("Europe/Berlin"))
    assert availability(away, utc(2024, 5, 8, 7)).available


def test_an_upcoming_absence_bounds_until() -> None:
    away = member(out_of_office=[{"start": "2024-05-06T10:00:00Z", "end": "2024-05-07T10:00:00Z"}])
    assert availability(away, utc(2024, 5, 6, 9)).until == utc(2024, 5, 6, 10)


def test_toggle_and_inactive_are_not_time_bound() -> None:
    assert availability(member(), utc(2024, 5, 6), toggled_off=True).reason == Unavailable.TOGGLED
    inactive = availability(member(active=False), utc(2024, 5, 6))
    assert (inactive.reason, inactive.until) == (Unavailable.INACTIVE, None)
    assert next_available_at(member(), utc(2024, 5, 6), toggled_off=True) is None


@pytest.mark.parametrize(
    ("fields", "instant", "reason"),
    [
        ({"closed_days": ["2024-05-06"]}, utc(2024, 5, 6, 12), Unavailable.TEAM_CLOSED),
        ({"closed_days": ["2024-05-06"]}, utc(2024, 5, 7, 12), None),
        ({"holiday_country": "FR"}, utc(2024, 7, 14, 12), Unavailable.TEAM_CLOSED),
        ({"hours": {"mon": NINE_TO_FIVE}}, utc(2024, 5, 6, 12), None),
        ({"hours": {"mon": NINE_TO_FIVE}}, utc(2024, 5, 6, 18), Unavailable.OUTSIDE_TEAM_HOURS),
        (
            {"timezone": "America/New_York", "hours": {"mon": NINE_TO_FIVE}},
            utc(2024, 5, 6, 12),
            Unavailable.OUTSIDE_TEAM_HOURS,
        ),
    ],
)
def test_team_closed_days_holidays_and_distribution_hours(
    fields: dict[str, Any], instant: datetime, reason: Unavailable | None
) -> None:
    assert team_status(team(**fields), instant).reason == reason


def test_team_status_comes_before_the_members_own() -> None:
    closed = team(closed_days=["2024-05-06"])
    answer = availability(member(), utc(2024, 5, 6, 12), team=closed)
    assert answer.reason == Unavailable.TEAM_CLOSED
    assert answer.detail == "team closed on 2024-05-06"


def test_next_available_at_crosses_a_weekend_and_a_dst_change() -> None:
    """Saturday 26 Oct 2024 noon in Berlin: next shift Monday 09:00 CET = 08:00 UTC."""
    berlin = member(timezone="Europe/Berlin", shifts=WEEKDAYS_9_TO_5)
    assert next_available_at(berlin, utc(2024, 10, 26, 12)) == utc(2024, 10, 28, 8)


def test_next_available_at_skips_holidays_and_absences() -> None:
    """Christmas 2024 (Wed) and St Stephen's Day (Thu) in Bavaria, then out of office Friday."""
    bavarian = member(
        timezone="Europe/Berlin",
        shifts=WEEKDAYS_9_TO_5,
        holiday_country="DE",
        holiday_subdivision="BY",
        out_of_office=[{"start": "2024-12-27T00:00:00+01:00", "end": "2024-12-28T00:00:00+01:00"}],
    )
    assert next_available_at(bavarian, utc(2024, 12, 24, 17)) == utc(2024, 12, 30, 8)


def test_next_available_at_is_none_when_no_shift_ever_comes() -> None:
    never = member(shifts={})
    assert next_available_at(never, utc(2024, 5, 6), horizon_days=10) is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"timezone": "Europe/Londn"}, "unknown time zone 'Europe/Londn'"),
        ({"shifts": {"monday": NINE_TO_FIVE}}, "unknown weekday 'monday'"),
        ({"shifts": {"mon": [{"start": "17:00", "end": "09:00"}]}}, "is not after start"),
        ({"holiday_country": "XX"}, "holiday_country 'XX' is not a supported"),
        ({"holiday_country": "DE", "holiday_subdivision": "ZZ"}, "not a subdivision of DE"),
        ({"holiday_subdivision": "BY"}, "without holiday_country"),
        (
            {"out_of_office": [{"start": "2024-05-06T10:00:00", "end": "2024-05-07T10:00:00"}]},
            "timezone",
        ),
    ],
)
def test_invalid_member_configuration_says_what_is_wrong(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        member(**fields)


ZONES = ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney", "UTC")
times = st.integers(min_value=0, max_value=47).map(
    lambda half: f"{half // 2:02d}:{half % 2 * 30:02d}"
)


@st.composite
def shift_members(draw: st.DrawFn) -> Member:
    shifts: dict[str, list[dict[str, str]]] = {}
    for day in draw(st.sets(st.sampled_from(WEEKDAYS), max_size=7)):
        start, end = sorted(draw(st.lists(times, min_size=2, max_size=2, unique=True)))
        shifts[day] = [{"start": start, "end": end}]
    return member(timezone=draw(st.sampled_from(ZONES)), shifts=shifts)


def _in_shift_by_wall_clock(subject: Member, instant: datetime) -> bool:
    local = instant.astimezone(ZoneInfo(subject.timezone))
    spans = (subject.shifts or {}).get(WEEKDAYS[local.weekday()], [])
    return any(span.start <= local.time() < span.end for span in spans)


@settings(max_examples=60, deadline=None)
@given(
    subject=shift_members(),
    start=st.datetimes(
        min_value=datetime(2024, 3, 1), max_value=datetime(2024, 11, 30), timezones=st.just(UTC)
    ),
    probes=st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=8),
)
def test_answers_hold_until_their_until_and_match_the_wall_clock(
    subject: Member, start: datetime, probes: list[float]
) -> None:
    """Property: the answer at any instant before ``until`` is the same, and equals a direct
    reading of the member's wall clock (DST transitions included in the date range)."""
    answer = availability(subject, start)
    assert answer.available == _in_shift_by_wall_clock(subject, start)
    assert answer.until is not None and answer.until > start
    span = answer.until - start
    for fraction in probes:
        probe = start + timedelta(seconds=int(span.total_seconds() * fraction))
        if probe < answer.until:
            assert _in_shift_by_wall_clock(subject, probe) == answer.available
