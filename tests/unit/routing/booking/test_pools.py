"""Host choice: single host, manual, pooled and round robin (threshold) pools across time zones and
a DST change, co-hosts, meet now, nearest alternatives, a host busy by booking time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.booking.config import BookingType
from routing.booking.counting import count_window_start
from routing.booking.pools import (
    HostRequest,
    available_slots,
    busy_range,
    choose_host,
    free_times_by_host,
    meet_now,
    nearest_alternatives,
    round_robin_hosts,
)
from routing.booking.slots import HostSchedule, Interval, Slot

NOW = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # a Monday
DAY = Interval(NOW, NOW + timedelta(days=1))
NEW_YORK, LONDON, TOKYO = "America/New_York", "Europe/London", "Asia/Tokyo"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def meeting(**fields: Any) -> BookingType:
    return BookingType.model_validate(
        {"name": "Intro", "duration_minutes": 60, "slot_step_minutes": 60, **fields}
    )


def schedule(host: str, zone: str = "UTC", *busy: tuple[datetime, datetime]) -> HostSchedule:
    return HostSchedule(host, zone, tuple(Interval(start, end) for start, end in busy))


def hours_of(slots: list[Slot]) -> dict[int, tuple[str, ...]]:
    return {slot.start.hour: slot.host_ids for slot in slots}


# --- single host and co-hosts --------------------------------------------------------------------


def test_a_single_host_offers_their_own_free_slots() -> None:
    schedules = {"ann": schedule("ann", "UTC", (utc(2026, 11, 23, 10), utc(2026, 11, 23, 12)))}
    slots = available_slots(meeting(), HostRequest(("ann",), "single"), schedules, {}, DAY, NOW)
    assert hours_of(slots) == {h: ("ann",) for h in (9, 12, 13, 14, 15, 16)}


def test_co_hosts_leave_only_the_times_everyone_is_free() -> None:
    schedules = {
        "ann": schedule("ann", "UTC", (utc(2026, 11, 23, 10), utc(2026, 11, 23, 11))),
        "bob": schedule("bob", "UTC", (utc(2026, 11, 23, 13), utc(2026, 11, 23, 15))),
        "cyd": schedule("cyd", "UTC", (utc(2026, 11, 23, 16), utc(2026, 11, 23, 17))),
    }
    request = HostRequest(("ann",), "single", co_hosts=("bob", "cyd"))
    slots = available_slots(meeting(), request, schedules, {}, DAY, NOW)
    assert hours_of(slots) == {9: ("ann",), 11: ("ann",), 12: ("ann",), 15: ("ann",)}


def test_co_hosts_working_hours_count_on_their_own_clock() -> None:
    """Ann works 09-17 in London (UTC in winter), Raj 09-17 in Kolkata (03:30-11:30 UTC): Raj can
    join a meeting starting on Ann's hourly step until 10:30 UTC, off his own half-hour grid."""
    schedules = {"ann": schedule("ann", LONDON), "raj": schedule("raj", "Asia/Kolkata")}
    request = HostRequest(("ann",), "single", co_hosts=("raj",))
    slots = available_slots(meeting(), request, schedules, {}, DAY, NOW)
    assert [slot.start for slot in slots] == [utc(2026, 11, 23, 9), utc(2026, 11, 23, 10)]


def test_a_co_host_is_never_offered_as_the_main_host() -> None:
    schedules = {host: schedule(host) for host in ("ann", "bob")}
    request = HostRequest(("ann", "bob"), "pooled", co_hosts=("bob",))
    slots = available_slots(meeting(), request, schedules, {"ann": 9}, DAY, NOW)
    assert {slot.host_ids for slot in slots} == {("ann",)}
    assert choose_host(request, ["ann", "bob"], {"ann": 9}) == "ann"


# --- pooled availability -------------------------------------------------------------------------


def three_zone_pool() -> dict[str, HostSchedule]:
    return {
        "ny": schedule("ny", NEW_YORK),  # 14:00-22:00 UTC
        "ldn": schedule("ldn", LONDON, (utc(2026, 11, 23, 9), utc(2026, 11, 23, 12))),  # 09-17 UTC
        "tyo": schedule("tyo", TOKYO),  # 00:00-08:00 UTC
    }


def test_pooled_availability_is_the_union_of_the_members_free_slots() -> None:
    request = HostRequest(("ny", "ldn", "tyo"), "pooled")
    slots = available_slots(meeting(), request, three_zone_pool(), {}, DAY, NOW)
    free = hours_of(slots)
    assert free[0] == ("tyo",) and free[7] == ("tyo",)
    assert 8 not in free and 9 not in free and 11 not in free
    assert free[12] == ("ldn",)
    assert free[14] == ("ny", "ldn") and free[16] == ("ny", "ldn")
    assert free[21] == ("ny",)


def test_pooled_hosts_of_a_slot_come_fewest_meetings_first_and_the_first_gets_it() -> None:
    request = HostRequest(("ny", "ldn", "tyo"), "pooled")
    counts = {"ny": 4, "ldn": 2}
    slots = available_slots(meeting(), request, three_zone_pool(), counts, DAY, NOW)
    at_three = next(slot for slot in slots if slot.start.hour == 15)
    assert at_three.host_ids == ("ldn", "ny")
    assert choose_host(request, at_three.host_ids, counts) == "ldn"


def test_choose_host_breaks_ties_by_pool_order_and_ignores_strangers() -> None:
    request = HostRequest(("ann", "bob", "cyd"), "pooled")
    assert choose_host(request, ["cyd", "bob"], {"bob": 1, "cyd": 1}) == "bob"
    assert choose_host(request, ["zed", "cyd"], {}) == "cyd"
    assert choose_host(request, ["zed"], {}) is None


def test_a_pool_across_a_dst_change_keeps_each_members_local_hours() -> None:
    """Europe leaves summer time on 25 Oct 2026, the US on 1 Nov: in between London is only four
    hours ahead of New York, so their 09-17 days overlap for four hours, not three."""
    schedules = {"ny": schedule("ny", NEW_YORK), "ldn": schedule("ldn", LONDON)}
    request = HostRequest(("ny", "ldn"), "pooled")

    def shared_hours(day: datetime) -> int:
        window = Interval(day, day + timedelta(days=1))
        slots = available_slots(meeting(), request, schedules, {}, window, day - timedelta(days=1))
        return sum(len(slot.host_ids) == 2 for slot in slots)

    assert shared_hours(utc(2026, 10, 23)) == 3  # both on summer time
    assert shared_hours(utc(2026, 10, 27)) == 4  # London on winter time, New York not yet
    assert shared_hours(utc(2026, 11, 3)) == 3  # both on winter time


def test_a_pool_in_three_time_zones_keeps_each_members_local_hours_through_both_dst_changes() -> None:
    """Each member's first hour, in UTC, on the three sides of the two DST changes: Tokyo (no DST) never moves,
    London moves on 25 Oct, New York on 1 Nov; the pooled answer is the union of the three."""
    schedules = {"ny": schedule("ny", NEW_YORK), "ldn": schedule("ldn", LONDON), "tyo": schedule("tyo", TOKYO)}
    request = HostRequest(("ny", "ldn", "tyo"), "pooled")

    def first_hours(day: datetime) -> dict[str, int]:
        window = Interval(day, day + timedelta(days=1))
        slots = available_slots(meeting(), request, schedules, {}, window, day - timedelta(days=1))
        by_host = free_times_by_host(slots)
        assert sum(len(free) for free in by_host.values()) == sum(len(slot.host_ids) for slot in slots)
        return {host: free[0].start.hour for host, free in sorted(by_host.items())}

    assert first_hours(utc(2026, 10, 23)) == {"ldn": 8, "ny": 13, "tyo": 0}  # Fri: London and New York on summer time
    assert first_hours(utc(2026, 10, 27)) == {"ldn": 9, "ny": 13, "tyo": 0}  # Tue: London back on GMT
    assert first_hours(utc(2026, 11, 3)) == {"ldn": 9, "ny": 14, "tyo": 0}  # Tue: New York back on EST


# --- manual selection and "show all availability" ---------------------------------------------


def test_manual_selection_lists_the_free_members_in_pool_order() -> None:
    request = HostRequest(("ny", "ldn", "tyo"), "manual")
    slots = available_slots(meeting(), request, three_zone_pool(), {"ny": 5}, DAY, NOW)
    assert hours_of(slots)[14] == ("ny", "ldn")


def test_show_all_availability_gives_each_hosts_own_free_times() -> None:
    request = HostRequest(("ny", "ldn", "tyo"), "manual")
    by_host = free_times_by_host(
        available_slots(meeting(), request, three_zone_pool(), {}, DAY, NOW)
    )
    assert [slot.start.hour for slot in by_host["ldn"]] == [12, 13, 14, 15, 16]
    assert [slot.start.hour for slot in by_host["tyo"]] == list(range(8))
    assert len(by_host["ny"]) == 8


# --- round robin with an availability threshold ----------------------------------------------


# Working days that never overlap: 09-17 UTC, 17-01 UTC and 01-09 UTC.
ZONES = {"ann": "UTC", "bob": "America/Los_Angeles", "cyd": "Asia/Singapore"}


def busy_all_day(host: str, zone: str = "UTC") -> HostSchedule:
    return schedule(host, zone, (NOW, NOW + timedelta(days=14)))


def round_robin_pool(busy: set[str]) -> dict[str, HostSchedule]:
    return {h: busy_all_day(h, z) if h in busy else schedule(h, z) for h, z in ZONES.items()}


def week_type() -> BookingType:
    return meeting(horizon_days=7)  # five working days of eight one-hour slots: 40 per member


@pytest.mark.parametrize(
    ("threshold", "counts", "busy", "expected"),
    [
        pytest.param(
            0, {"ann": 3, "bob": 1, "cyd": 2}, {}, ["bob"], id="no threshold: fewest meetings only"
        ),
        pytest.param(
            40, {"ann": 3, "bob": 1, "cyd": 2}, {}, ["bob"], id="threshold met by the first"
        ),
        pytest.param(
            41,
            {"ann": 3, "bob": 1, "cyd": 2},
            {},
            ["bob", "cyd"],
            id="one more slot adds the next by count",
        ),
        pytest.param(
            500, {"ann": 3, "bob": 1, "cyd": 2}, {}, ["bob", "cyd", "ann"], id="never met: everyone"
        ),
        pytest.param(0, {}, {}, ["ann"], id="ties go to pool order"),
        pytest.param(
            0, {"ann": 0}, {"ann"}, ["ann", "bob"], id="a member with no slot is never enough"
        ),
        pytest.param(
            10,
            {"bob": 0, "ann": 1, "cyd": 2},
            {"bob"},
            ["bob", "ann"],
            id="busy first member adds the next",
        ),
    ],
)
def test_round_robin_adds_members_by_meeting_count_until_the_threshold_is_met(
    threshold: int, counts: dict[str, int], busy: set[str], expected: list[str]
) -> None:
    request = HostRequest(("ann", "bob", "cyd"), "round_robin", threshold_slots=threshold)
    assert round_robin_hosts(week_type(), request, round_robin_pool(busy), counts, NOW) == expected


def test_round_robin_counts_distinct_open_times_not_member_slots() -> None:
    """Two members free at the same times add no new slots; a member in another zone does."""
    schedules = {"ann": schedule("ann"), "bob": schedule("bob"), "ken": schedule("ken", TOKYO)}
    request = HostRequest(("ann", "bob", "ken"), "round_robin", threshold_slots=41)
    assert round_robin_hosts(week_type(), request, schedules, {}, NOW) == ["ann", "bob", "ken"]


def test_round_robin_counts_the_whole_horizon_even_for_a_narrow_window() -> None:
    schedules = {
        "ann": schedule("ann", "UTC", (utc(2026, 11, 24), utc(2026, 12, 1))),  # free Monday only
        "bob": schedule("bob"),
    }
    request = HostRequest(("ann", "bob"), "round_robin", threshold_slots=8)
    monday = available_slots(week_type(), request, schedules, {}, DAY, NOW)
    assert {slot.host_ids for slot in monday} == {("ann",)}
    request = HostRequest(("ann", "bob"), "round_robin", threshold_slots=9)
    monday = available_slots(week_type(), request, schedules, {}, DAY, NOW)
    assert {slot.host_ids for slot in monday} == {("ann", "bob")}


def test_round_robin_threshold_counts_only_slots_the_co_hosts_can_join() -> None:
    schedules = {
        "ann": schedule("ann"),
        "bob": schedule("bob"),
        "eve": schedule(
            "eve", "UTC", (utc(2026, 11, 24), utc(2026, 12, 1))
        ),  # co-host: Monday only
    }
    request = HostRequest(("ann", "bob"), "round_robin", co_hosts=("eve",), threshold_slots=9)
    assert round_robin_hosts(week_type(), request, schedules, {}, NOW) == ["ann", "bob"]


@settings(max_examples=30, deadline=None)
@given(
    counts=st.dictionaries(st.sampled_from(list(ZONES)), st.integers(0, 5)),
    busy=st.sets(st.sampled_from(list(ZONES))),
    threshold=st.integers(0, 130),
)
def test_round_robin_takes_a_prefix_by_count_and_stops_as_soon_as_it_may(
    counts: dict[str, int], busy: set[str], threshold: int
) -> None:
    hosts = tuple(ZONES)
    request = HostRequest(hosts, "round_robin", threshold_slots=threshold)
    chosen = round_robin_hosts(week_type(), request, round_robin_pool(busy), counts, NOW)
    ordered = sorted(hosts, key=lambda h: (counts.get(h, 0), hosts.index(h)))
    assert chosen == ordered[: len(chosen)]
    open_slots = 40 * sum(1 for h in chosen if h not in busy)
    before_last = 40 * sum(1 for h in chosen[:-1] if h not in busy)
    assert before_last < max(threshold, 1)
    assert open_slots >= max(threshold, 1) or len(chosen) == len(hosts)


# --- meet now ---------------------------------------------------------------------------------


def test_meet_now_names_who_is_free_for_the_whole_meeting_from_now() -> None:
    now = utc(2026, 11, 23, 15, 10)
    schedules = {
        "ny": schedule("ny", NEW_YORK),
        "ldn": schedule("ldn", LONDON, (utc(2026, 11, 23, 15, 50), utc(2026, 11, 23, 16, 30))),
        "tyo": schedule("tyo", TOKYO),  # asleep
        "cha": schedule("cha", "America/Chicago"),  # working from 15:00 UTC
    }
    request = HostRequest(("ny", "ldn", "tyo", "cha"), "round_robin", threshold_slots=1)
    booking_type = meeting(duration_minutes=30, minimum_notice_minutes=120)
    assert meet_now(booking_type, request, schedules, now) == ["ny", "ldn", "cha"]
    assert meet_now(booking_type, request, schedules, now, {"ny": 3, "cha": 1}) == [
        "ldn",
        "cha",
        "ny",
    ]
    later = meeting(duration_minutes=45)
    assert meet_now(later, request, schedules, now) == ["ny", "cha"]


def test_meet_now_is_empty_when_a_co_host_is_busy() -> None:
    now = utc(2026, 11, 23, 10)
    schedules = {
        "ann": schedule("ann"),
        "bob": schedule("bob", "UTC", (now, now + timedelta(minutes=5))),
    }
    assert meet_now(meeting(), HostRequest(("ann",), "single", ("bob",)), schedules, now) == []


# --- alternatives and a host who becomes busy ------------------------------------------------


def test_nearest_alternatives_are_the_closest_free_slots_in_time_order() -> None:
    slots = available_slots(
        meeting(), HostRequest(("ann",), "single"), {"ann": schedule("ann")}, {}, DAY, NOW
    )
    wanted = utc(2026, 11, 23, 12, 30)
    assert [s.start.hour for s in nearest_alternatives(slots, wanted)] == [11, 12, 13]
    assert [s.start.hour for s in nearest_alternatives(slots, utc(2026, 11, 23, 3), limit=2)] == [
        9,
        10,
    ]


def test_a_host_who_becomes_busy_before_booking_loses_the_slot_to_the_next_member() -> None:
    booking_type, request = meeting(), HostRequest(("ann", "bob"), "pooled")
    counts = {"ann": 0, "bob": 3}
    wanted = utc(2026, 11, 23, 14)
    before = {"ann": schedule("ann"), "bob": schedule("bob")}
    offered = next(
        s
        for s in available_slots(booking_type, request, before, counts, DAY, NOW)
        if s.start == wanted
    )
    assert choose_host(request, offered.host_ids, counts) == "ann"

    after = {**before, "ann": schedule("ann", "UTC", (wanted, wanted + timedelta(minutes=30)))}
    now_free = next(
        s
        for s in available_slots(booking_type, request, after, counts, DAY, NOW)
        if s.start == wanted
    )
    assert choose_host(request, now_free.host_ids, counts) == "bob"

    single = HostRequest(("ann",), "single")
    alternatives = nearest_alternatives(
        available_slots(booking_type, single, after, counts, DAY, NOW), wanted
    )
    assert [s.start.hour for s in alternatives] == [12, 13, 15]


def test_a_request_without_a_schedule_for_a_candidate_says_which() -> None:
    with pytest.raises(ValueError, match="no schedule given for host 'bob'"):
        available_slots(
            meeting(), HostRequest(("ann", "bob"), "pooled"), {"ann": schedule("ann")}, {}, DAY, NOW
        )


def test_host_requests_are_checked() -> None:
    with pytest.raises(ValueError, match="at least one candidate"):
        HostRequest((), "pooled")
    with pytest.raises(ValueError, match="mode single takes one candidate"):
        HostRequest(("ann", "bob"), "single")


# --- which busy time matters ----------------------------------------------------------------------


def _clipped(schedule_: HostSchedule, keep: Interval) -> HostSchedule:
    busy = tuple(
        Interval(max(b.start, keep.start), min(b.end, keep.end))
        for b in schedule_.busy
        if b.end > keep.start and b.start < keep.end
    )
    return HostSchedule(schedule_.host_id, schedule_.time_zone, busy)


@settings(max_examples=80, deadline=None)
@given(
    mode=st.sampled_from(["pooled", "round_robin"]),
    blocks=st.lists(
        st.tuples(st.sampled_from(["ann", "bob"]), st.integers(-40, 1340), st.integers(1, 100)),
        max_size=16,
    ),
    window_hours=st.tuples(st.integers(0, 160), st.integers(1, 100)),
    before=st.sampled_from([0, 20]),
    after=st.sampled_from([0, 45]),
    threshold=st.integers(1, 70),
)
def test_busy_outside_the_busy_range_never_changes_the_answer(
    mode: str,
    blocks: list[tuple[str, int, int]],
    window_hours: tuple[int, int],
    before: int,
    after: int,
    threshold: int,
) -> None:
    """Busy blocks start on quarter hours and windows on whole hours, so meetings often end on a
    window's edge with a buffer reaching past it."""
    booking_type = meeting(
        horizon_days=7,
        buffer_before_minutes=before,
        buffer_after_minutes=after,
        minimum_notice_minutes=90,
    )
    request = HostRequest(("ann", "bob"), mode, threshold_slots=threshold)  # type: ignore[arg-type]
    now = NOW + timedelta(hours=7)
    quarter, hour = timedelta(minutes=15), timedelta(hours=1)
    window = Interval(NOW + window_hours[0] * hour, NOW + sum(window_hours) * hour)
    schedules = {
        host: schedule(
            host,
            zone,
            *((NOW + a * quarter, NOW + (a + n) * quarter) for h, a, n in blocks if h == host),
        )
        for host, zone in (("ann", "UTC"), ("bob", NEW_YORK))
    }
    keep = busy_range(booking_type, request, window, now)
    clipped = {host: _clipped(s, keep) for host, s in schedules.items()}
    counts = {"bob": 1}
    assert available_slots(booking_type, request, clipped, counts, window, now) == available_slots(
        booking_type, request, schedules, counts, window, now
    )


def test_the_busy_range_reaches_past_the_window_by_the_buffer_after() -> None:
    """A meeting may end on the window's edge while its buffer reaches beyond it."""
    booking_type = meeting(buffer_before_minutes=20, buffer_after_minutes=45)
    window = Interval(utc(2026, 11, 23, 10), utc(2026, 11, 23, 12))
    keep = busy_range(booking_type, HostRequest(("ann",), "single"), window, NOW)
    assert keep == Interval(utc(2026, 11, 23, 9, 40), utc(2026, 11, 23, 12, 45))
    rr = busy_range(booking_type, HostRequest(("ann", "bob"), "round_robin"), window, NOW)
    assert rr == Interval(NOW - timedelta(minutes=20), NOW + timedelta(days=14, minutes=105))


@pytest.mark.parametrize(
    ("reset", "expected"),
    [
        (
            "day",
            datetime(2026, 11, 1, 4, 0, tzinfo=UTC),
        ),  # midnight in New York, still on summer time
        ("week", datetime(2026, 10, 26, 4, 0, tzinfo=UTC)),  # Monday
        ("month", datetime(2026, 11, 1, 4, 0, tzinfo=UTC)),
    ],
)
def test_meetings_count_from_the_start_of_the_pools_day_week_or_month(
    reset: str, expected: datetime
) -> None:
    now = utc(2026, 11, 1, 12)  # Sunday 07:00 in New York, after the clocks went back
    assert count_window_start(reset, now, NEW_YORK) == expected  # type: ignore[arg-type]


@settings(max_examples=30, deadline=None)
@given(
    blocks=st.lists(
        st.tuples(st.sampled_from(["ny", "ldn", "tyo"]), st.integers(0, 2800), st.integers(1, 300)),
        max_size=20,
    ),
    counts=st.dictionaries(st.sampled_from(["ny", "ldn", "tyo"]), st.integers(0, 3)),
)
def test_a_pooled_slot_lists_exactly_the_members_whose_own_slots_include_it(
    blocks: list[tuple[str, int, int]], counts: dict[str, int]
) -> None:
    booking_type = meeting(duration_minutes=30, slot_step_minutes=30, buffer_after_minutes=10)
    minutes = timedelta(minutes=1)
    zones = {"ny": NEW_YORK, "ldn": LONDON, "tyo": TOKYO}
    schedules = {
        host: schedule(
            host,
            zone,
            *((NOW + a * minutes, NOW + (a + n) * minutes) for h, a, n in blocks if h == host),
        )
        for host, zone in zones.items()
    }
    window = Interval(NOW, NOW + timedelta(days=2))
    pooled = available_slots(
        booking_type, HostRequest(tuple(zones), "pooled"), schedules, counts, window, NOW
    )
    own = {
        host: {
            s.start
            for s in available_slots(
                booking_type, HostRequest((host,), "single"), schedules, {}, window, NOW
            )
        }
        for host in zones
    }
    assert {s.start for s in pooled} == set().union(*own.values())
    for slot in pooled:
        assert set(slot.host_ids) == {host for host, starts in own.items() if slot.start in starts}
        assert [counts.get(h, 0) for h in slot.host_ids] == sorted(
            counts.get(h, 0) for h in slot.host_ids
        )


def test_joint_slots_keep_times_when_every_other_pool_has_a_free_member_besides_the_host() -> None:
    from routing.booking.pools import joint_slots, pick_group_hosts

    at = [datetime(2030, 1, 7, 9 + hour, tzinfo=UTC) for hour in range(3)]
    main = [Slot(start, start + timedelta(minutes=30), hosts) for start, hosts in
            zip(at, (("ae1", "ae2"), ("ae1",), ("ae2",)), strict=True)]
    engineers = [Slot(at[0], at[0] + timedelta(minutes=30), ("se1",)),
                 Slot(at[1], at[1] + timedelta(minutes=30), ("ae1",))]  # ae1 is in both pools
    assert [slot.start for slot in joint_slots(main, [engineers])] == [at[0]]
    assert pick_group_hosts("ae1", [["ae1", "se1"], ["se1", "se2"]]) == ["se1", "se2"]
    assert pick_group_hosts("ae1", [["se1"], ["se1"]]) is None
