"""Fairness over time for booking pools: the counting period (booked or meeting time), calibration
credits for members back from out of office or new, the lead threshold (members too far ahead are not
shown) and per-host meeting caps (never exceeded, skipped with the reason). Through the booking API on
the embedded store, with a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings

from adapters.calendar import RecordingCalendar
from adapters.salesforce.events import RecordingSalesforceEvents
from baton import runtime
from entrypoints.http.app import create_app
from routing.booking.config import MeetingCaps, PoolSettings
from routing.booking.fairness import calibrate, capped_windows, lead_hidden, period_of
from routing.booking.pools import HostRequest, choose_host
from routing.booking.slots import Interval
from tests.support.booking import (
    ENGINEERS,
    HOSTS,
    NINE,
    NOW,
    TOKEN,
    BookingChain,
    assert_extra_pool_caps_hold_in_a_race,
    booking_request,
    host_email,
    install_booking_ports,
)
from tests.support.fairness_strategies import ABSENCES, RESETS, STEPS, WEIGHTS
from tests.support.pipeline import Pipeline

AUTH = {"Authorization": f"Bearer {TOKEN}"}
H1, H2, H3 = HOSTS
E1, E2 = ENGINEERS


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def chain(pipeline: Pipeline) -> Iterator[BookingChain]:
    chain = BookingChain(pipeline.app, pipeline.broker, pipeline.store, RecordingCalendar(), RecordingSalesforceEvents())
    yield chain
    chain.drain()


def setup(chain: BookingChain, mode: str, pool_extra: str, clock: Clock | None = None,
          member_extra: dict[str, str] | None = None, reset: str = "month", engineers_extra: str = "") -> TestClient:
    install_booking_ports(chain.app, chain.store, chain.calendar, chain.events, clock=clock or Clock(NOW), mode=mode,
                          reset=reset, pool_extra=pool_extra, member_extra=member_extra,
                          engineers_extra=engineers_extra)
    return TestClient(create_app(chain.app))


def book(client: TestClient, start: datetime, **overrides: Any) -> Any:
    return client.post("/bookings", json=booking_request(start=start.isoformat(), **overrides), headers=AUTH)


def booked(client: TestClient, starts: list[datetime], **overrides: Any) -> list[Any]:
    answers = [book(client, start, **overrides) for start in starts]
    assert all(answer.status_code == 202 for answer in answers), [answer.json() for answer in answers]
    return [answer.json() for answer in answers]


def hosts_of(client: TestClient, starts: list[datetime]) -> list[str]:
    return [booking["host_id"] for booking in booked(client, starts)]


def engineers_of(client: TestClient, starts: list[datetime]) -> list[str]:
    """The engineer each booking took from the extra pool ``Engineers``."""
    return [booking["co_host_ids"][0] for booking in booked(client, starts, extra_pools=["Engineers"])]


def availability(client: TestClient, start: datetime, hours: int = 2, **extra: Any) -> Any:
    query = {"object_type": "Lead", "record_id": "00Q000000000001AAA", "start": start.isoformat(),
             "end": (start + timedelta(hours=hours)).isoformat(), **extra}
    answer = client.get("/availability", params=query, headers=AUTH)
    assert answer.status_code == 200, answer.json()
    return answer.json()


# -- pure core ----------------------------------------------------------------------------------


def test_calibration_lifts_members_away_or_new_to_the_lowest_present_standing() -> None:
    found = calibrate(["a", "b", "c", "new"], {"a": 5, "b": 4, "c": 0}, {"a": 0, "b": 0, "c": 1}, away={"c"})
    assert found.level == 4
    assert found.standings == {"a": 5, "b": 4, "c": 4, "new": 4}
    assert found.credits == {"a": 0, "b": 0, "c": 4, "new": 4}


def test_the_first_booking_of_a_period_marks_everyone_counted_without_credit() -> None:
    found = calibrate(["a", "b"], {}, {}, away={"b"})
    assert found.credits == {"a": 0, "b": 0} and found.standings == {"a": 0, "b": 0}


def test_the_lead_threshold_hides_members_too_far_ahead_of_the_least_loaded_present_member() -> None:
    # c is away: the least-loaded present member is b, and a is only 2 ahead of b.
    assert lead_hidden(["a", "b", "c"], {"a": 4, "b": 2, "c": 0}, threshold=2, away={"c"}) == {}
    assert lead_hidden(["a", "b", "c"], {"a": 5, "b": 2, "c": 0}, threshold=2, away={"c"}) == {
        "a": "lead threshold: 3 meetings ahead of the least-loaded member (threshold 2)"}
    assert lead_hidden(["a", "b"], {"a": 9}, threshold=None) == {}


def test_a_returning_weighted_member_is_credited_the_meetings_of_their_weighted_share() -> None:
    # The level is 4 meetings per unit of weight: weight 2 is lifted to 8 meetings, weight 3 to 12.
    found = calibrate(["a", "b", "w2", "w3"], {"a": 4, "b": 5, "w2": 1}, {"a": 0, "b": 0, "w2": 0, "w3": 0},
                      away={"w2", "w3"}, weights={"w2": 2, "w3": 3})
    assert found.level == 4
    assert found.standings == {"a": 4, "b": 5, "w2": 8, "w3": 12}
    assert found.credits == {"a": 0, "b": 0, "w2": 7, "w3": 12}


def test_a_weighted_level_between_whole_meetings_is_rounded_up_for_the_member_lifted() -> None:
    # b (weight 2) has 3 meetings: a level of 1.5 per unit of weight; new c (weight 3) needs 4.5, gets 5.
    found = calibrate(["b", "c"], {"b": 3}, {"b": 0}, away=(), weights={"b": 2, "c": 3})
    assert found.level == Fraction(3, 2) and found.standings == {"b": 3, "c": 5} and found.credits == {"b": 0, "c": 5}


def test_the_lead_threshold_counts_each_members_own_meetings_for_their_weight() -> None:
    # w2 (weight 2) with 3 meetings is at 1.5 per unit of weight, one of her own meetings ahead of b at 1.
    assert lead_hidden(["w2", "b"], {"w2": 3, "b": 1}, threshold=1, weights={"w2": 2}) == {}
    # a (weight 1) with 3 meetings is two of his own ahead of w2 at 2 meetings for weight 2.
    assert lead_hidden(["a", "w2"], {"a": 3, "w2": 2}, threshold=1, weights={"w2": 2}) == {
        "a": "lead threshold: 2 meetings ahead of the least-loaded member (threshold 1)"}


def test_hosts_are_ordered_by_meetings_for_their_weight() -> None:
    request = HostRequest(("a", "w2"), "pooled", weights={"w2": 2})
    assert choose_host(request, ["a", "w2"], {"a": 1, "w2": 1}) == "w2"
    assert choose_host(request, ["a", "w2"], {"a": 1, "w2": 2}) == "a"  # a tie goes to the earlier candidate
    with pytest.raises(ValueError, match="weight must be at least 1"):
        HostRequest(("a",), "pooled", weights={"a": 0})


@settings(max_examples=60, deadline=None)
@given(weights=WEIGHTS, absences=ABSENCES, steps=STEPS, reset=RESETS)
def test_calibrated_pool_members_present_all_period_stay_within_one_meeting_of_their_weighted_target(
    weights: list[int], absences: list[list[tuple[int, int]]], steps: list[int], reset: str,
) -> None:
    """With calibration on, among pool members present the whole period, no member's running meeting
    count exceeds their weighted target (``(all meetings + credits) × weight ÷ total weight``, over
    the members counted this period) by more than one. Each booking goes, as the booking path does,
    to the present member ``choose_host`` prefers, after ``calibrate`` credited the members away."""
    pool = PoolSettings(team="Pool", reset=reset, balance="calibration")  # type: ignore[arg-type]
    hosts = [f"h{number}" for number in range(len(weights))]
    request = HostRequest(tuple(hosts), "pooled", weights=dict(zip(hosts, weights, strict=True)))
    start = datetime(2026, 11, 2, 9, tzinfo=UTC)
    hours = 0
    period = ""
    counts: dict[str, int] = {}
    credits: dict[str, int] = {}
    always: set[str] = set()
    for step in steps:
        hours += step
        key, _ = period_of(pool, start + timedelta(hours=hours), "Europe/Berlin")
        if key != period:
            period, counts, credits, always = key, {}, {}, set(hosts)
        away = {host for host, spans in zip(hosts, absences, strict=False)
                if any(first <= hours < first + length for first, length in spans)}
        always -= away
        calibration = calibrate(hosts, counts, credits, away, request.weights)
        host = choose_host(request, [host for host in hosts if host not in away], calibration.standings)
        if host is None:
            continue  # nobody could host: no booking, nothing stored
        credits = calibration.credits
        counts[host] = counts.get(host, 0) + 1
        total = sum(counts.values()) + sum(credits.values())
        weight_sum = sum(request.weights[member] for member in credits)
        for member in always:
            target = Fraction(total * request.weights[member], weight_sum)
            assert counts.get(member, 0) <= target + 1, (member, counts, credits)


def test_caps_are_counted_on_the_hosts_own_clock() -> None:
    # 23:30 UTC on Monday is 18:30 in New York: three meetings on Monday there, none on Tuesday.
    starts = [datetime(2030, 1, 7, hour, 30, tzinfo=UTC) for hour in (14, 16, 23)]
    found = capped_windows("h", "America/New_York", MeetingCaps(per_day=3, per_week=4), starts)
    assert [item.describe() for item in found] == ["cap reached: day cap 3 (3 meetings on 2030-01-07)"]
    assert found[0].span.start == datetime(2030, 1, 7, 5, tzinfo=UTC)


def test_periods_start_on_the_teams_clock() -> None:
    key, span = period_of(PoolSettings(team="x", reset="week"), datetime(2030, 1, 13, 23, tzinfo=UTC), "Asia/Tokyo")
    assert key == "w2030-W03" and span.start == datetime(2030, 1, 13, 15, tzinfo=UTC)


# -- through the booking API ---------------------------------------------------------------------


AWAY_FIRST_WEEK = ', out_of_office: [{start: "2030-01-07T00:00:00+00:00", end: "2030-01-14T00:00:00+00:00"}]'


def week_with_one_away(chain: BookingChain, away: str, mode: str, pool_extra: str, days: int, away_extra: str = "",
                       engineers_extra: str = "", **overrides: Any) -> tuple[TestClient, list[Any]]:
    """Two bookings a day for ``days`` days while ``away`` is out of office all week, then the clock at the next
    Monday: the client and the week's bookings."""
    clock = Clock(NOW)
    client = setup(chain, mode, pool_extra, clock, {away: away_extra + AWAY_FIRST_WEEK},
                   engineers_extra=engineers_extra)
    week: list[Any] = []
    for day in range(days):
        clock.now = NOW + timedelta(days=day)
        week += booked(client, [NINE + timedelta(days=day, hours=hour) for hour in (0, 1)], **overrides)
    clock.now = NOW + timedelta(days=7)
    return client, week


def next_monday(client: TestClient, meetings: int) -> list[str]:
    return hosts_of(client, [NINE + timedelta(days=7, hours=hour) for hour in range(meetings)])


def test_a_member_back_from_a_week_away_is_calibrated_not_flooded(chain: BookingChain) -> None:
    client, first_week = week_with_one_away(chain, H3, "round_robin", ", balance: calibration", days=5)
    assert sorted(booking["host_id"] for booking in first_week) == [H1] * 5 + [H2] * 5
    assert next_monday(client, 6).count(H3) == 2  # her share of six, not six in a row


def test_a_weight_2_member_hosts_twice_as_many_meetings(chain: BookingChain) -> None:
    client = setup(chain, "pooled", "", member_extra={H1: ", weight: 2"})
    hosts = hosts_of(client, [NINE + timedelta(hours=hour) for hour in range(8)])
    assert (hosts.count(H1), hosts.count(H2), hosts.count(H3)) == (4, 2, 2)


def test_a_weighted_member_back_from_a_week_away_is_credited_their_weighted_share(chain: BookingChain) -> None:
    client, _ = week_with_one_away(chain, H3, "round_robin", ", balance: calibration", days=5,
                                   away_extra=", weight: 2")
    back = next_monday(client, 8)
    # Credited up to the others' 4 meetings per unit of weight before the week's last booking: 8 meetings.
    assert chain.bookings.pool_credits("Handover", "m2030-01")[H3] == 8
    assert back == [H3, H3, H1, H2, H3, H3, H1, H2]  # her weighted share, half, and no run of ten


def test_without_calibration_the_member_back_takes_every_meeting_until_level(chain: BookingChain) -> None:
    client, _ = week_with_one_away(chain, H3, "pooled", "", days=2)
    assert next_monday(client, 2) == [H3, H3]


def test_meetings_count_in_the_period_they_take_place_when_the_pool_says_so(chain: BookingChain) -> None:
    client = setup(chain, "round_robin", ", count_by: meeting_time", reset="day")
    tomorrow = hosts_of(client, [NINE + timedelta(days=1)])
    today = hosts_of(client, [NINE + timedelta(hours=1)])
    assert tomorrow == [H1] and today == [H1]  # tomorrow's meeting does not count today


def test_meetings_count_in_the_period_they_were_booked_in_by_default(chain: BookingChain) -> None:
    client = setup(chain, "round_robin", "", reset="day")
    assert hosts_of(client, [NINE + timedelta(days=1), NINE + timedelta(hours=1)]) == [H1, H2]


def test_a_member_too_far_ahead_is_not_shown_until_the_others_catch_up(chain: BookingChain) -> None:
    client = setup(chain, "manual", ", lead_threshold: 1")
    for hour in (0, 1):
        assert book(client, NINE + timedelta(hours=hour), pool_member_id=H1).status_code == 202
    shown = availability(client, NINE + timedelta(hours=3))
    assert shown["skipped"] == {H1: ["lead threshold: 2 meetings ahead of the least-loaded member (threshold 1)"]}
    assert all(H1 not in slot["host_ids"] for slot in shown["slots"]) and shown["slots"]
    refused = book(client, NINE + timedelta(hours=3), pool_member_id=H1)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "pool_member_id"]
    for host, hour in ((H2, 4), (H3, 5)):
        assert book(client, NINE + timedelta(hours=hour), pool_member_id=host).status_code == 202
    assert "skipped" not in availability(client, NINE + timedelta(hours=6))  # restored


def test_a_host_at_the_day_cap_is_not_offered_that_day_and_never_booked_past_it(chain: BookingChain) -> None:
    client = setup(chain, "manual", ", caps: {per_day: 2, per_week: 3}")
    for hour in (0, 1):
        assert book(client, NINE + timedelta(hours=hour), pool_member_id=H1).status_code == 202
    shown = availability(client, NINE + timedelta(hours=3))
    assert shown["skipped"] == {H1: ["cap reached: day cap 2 (2 meetings on 2030-01-07)"]}
    assert all(H1 not in slot["host_ids"] for slot in shown["slots"])
    refused = book(client, NINE + timedelta(hours=3), pool_member_id=H1)
    assert refused.status_code == 409
    assert H1 in availability(client, NINE + timedelta(days=1))["slots"][0]["host_ids"]  # a new day
    assert book(client, NINE + timedelta(days=1), pool_member_id=H1).status_code == 202
    week = availability(client, NINE + timedelta(days=2))
    assert week["skipped"][H1][-1] == "cap reached: week cap 3 (3 meetings in the week of 2030-01-07)"
    assert len([b for b in chain.bookings.meeting_starts([H1], NOW, NOW + timedelta(days=7))[H1]]) == 3


# -- the pools a booking needs one host from each of (extra_pools) ----------------------------------------


def test_an_extra_pools_day_cap_is_never_exceeded_and_its_capped_member_is_skipped(chain: BookingChain) -> None:
    client = setup(chain, "pooled", "", engineers_extra=", caps: {per_day: 1}")
    assert engineers_of(client, [NINE]) == [E1]
    shown = availability(client, NINE + timedelta(hours=1), extra_pools=["Engineers"])
    assert shown["skipped"] == {E1: ["cap reached: day cap 1 (1 meetings on 2030-01-07)"]}
    assert engineers_of(client, [NINE + timedelta(hours=1)]) == [E2]
    refused = book(client, NINE + timedelta(hours=2), extra_pools=["Engineers"])
    assert refused.status_code == 409, refused.json()
    assert availability(client, NINE + timedelta(hours=2), extra_pools=["Engineers"])["slots"] == []
    assert engineers_of(client, [NINE + timedelta(days=1)]) == [E1]  # a new day


def test_an_extra_pools_lead_threshold_hides_its_member_too_far_ahead(chain: BookingChain) -> None:
    client = setup(chain, "pooled", "", engineers_extra=", lead_threshold: 0")
    eleven = NINE + timedelta(hours=2)
    chain.calendar.busy_by_email[host_email(E2)] = [Interval(eleven, eleven + timedelta(hours=1))]
    assert engineers_of(client, [NINE + timedelta(hours=1)]) == [E1]
    shown = availability(client, eleven, hours=1, extra_pools=["Engineers"])
    assert shown["skipped"] == {E1: ["lead threshold: 1 meetings ahead of the least-loaded member (threshold 0)"]}
    assert shown["slots"] == []  # E2 is busy then, and E1 is not offered
    assert book(client, eleven, extra_pools=["Engineers"]).status_code == 409


def test_an_extra_pool_counts_meetings_in_its_own_period_by_its_own_rule(chain: BookingChain) -> None:
    client = setup(chain, "pooled", "", engineers_extra=", reset: day, count_by: meeting_time")
    assert engineers_of(client, [NINE + timedelta(days=1)]) == [E1]
    assert engineers_of(client, [NINE + timedelta(hours=1)]) == [E1]  # tomorrow's meeting does not count today


def test_an_extra_pools_members_are_weighted(chain: BookingChain) -> None:
    client = setup(chain, "pooled", "", member_extra={E1: ", weight: 2"})
    assert engineers_of(client, [NINE + timedelta(hours=hour) for hour in range(4)]) == [E1, E2, E1, E1]


def test_an_extra_pools_member_back_from_a_week_away_is_calibrated_not_flooded(chain: BookingChain) -> None:
    client, week = week_with_one_away(chain, E2, "pooled", "", days=2, engineers_extra=", balance: calibration",
                                      extra_pools=["Engineers"])
    assert [booking["co_host_ids"] for booking in week] == [[E1]] * 4
    back = engineers_of(client, [NINE + timedelta(days=7, hours=hour) for hour in range(4)])
    assert chain.bookings.pool_credits("Engineers", "m2030-01") == {E1: 0, E2: 3}  # level before the 4th
    assert back == [E2, E1, E2, E1]


def test_concurrent_bookings_never_exceed_an_extra_pools_cap_on_sqlite(tmp_path: Path,
                                                                     stub_runtime: runtime.Runtime) -> None:
    assert_extra_pool_caps_hold_in_a_race(stub_runtime, f"sqlite:///{tmp_path / 'race.sqlite3'}")


def test_the_store_refuses_a_booking_past_a_cap_even_when_availability_was_read_before() -> None:
    """Two bookings racing for one host's last meeting of the day: the reservation counts again."""
    from adapters.store import make_engine, upgrade_schema
    from adapters.store.bookings import SqlBookings
    from kernel.ports.bookings import CapLimit, CapReached, Hold, NewBooking

    engine = make_engine("sqlite://")
    upgrade_schema(engine)
    store = SqlBookings(engine)
    day = CapLimit(H1, NINE.replace(hour=0), NINE.replace(hour=0) + timedelta(days=1), 1, "day cap 1 reached")

    def row(number: int) -> NewBooking:
        start = NINE + timedelta(hours=number)
        return NewBooking(id=f"b{number}", status="reserved", booking_type="Intro", object_type="Lead",
                          record_id="00Q000000000001AAA", scheduler_user_id=H2, host_id=H1, pool="Handover",
                          co_host_ids=[], starts_at=start, ends_at=start + timedelta(minutes=30),
                          guest_email="pat@example.org", invitees=[], platform="none", request={},
                          created_at=NOW)

    store.reserve(row(0), [Hold(H1, NINE, NINE + timedelta(minutes=30))], [day])
    with pytest.raises(CapReached, match="day cap 1 reached"):
        store.reserve(row(2), [Hold(H1, NINE + timedelta(hours=2), NINE + timedelta(hours=3))], [day])
    assert store.get("b2") is None
