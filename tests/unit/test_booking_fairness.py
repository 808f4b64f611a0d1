"""Fairness over time for booking pools: the counting period (booked or meeting time), calibration
credits for members back from out of office or new, the lead threshold (members too far ahead are not
shown) and per-host meeting caps (never exceeded, skipped with the reason). Through the booking API on
the embedded store, with a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.calendar import RecordingCalendar
from adapters.http.app import create_app
from adapters.salesforce.events import RecordingSalesforceEvents
from routing.booking.config import MeetingCaps, PoolSettings
from routing.booking.fairness import calibrate, capped_windows, lead_hidden, period_of
from tests.support.booking import HOSTS, NINE, NOW, TOKEN, BookingChain, booking_request, install_booking_ports
from tests.unit.conftest import Pipeline

AUTH = {"Authorization": f"Bearer {TOKEN}"}
H1, H2, H3 = HOSTS


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def chain(pipeline: Pipeline) -> Iterator[BookingChain]:
    chain = BookingChain(pipeline.broker, pipeline.store, RecordingCalendar(), RecordingSalesforceEvents())
    yield chain
    chain.drain()


def setup(chain: BookingChain, mode: str, pool_extra: str, clock: Clock | None = None,
          member_extra: dict[str, str] | None = None, reset: str = "month") -> TestClient:
    install_booking_ports(chain.store, chain.calendar, chain.events, clock=clock or Clock(NOW), mode=mode,
                          reset=reset, pool_extra=pool_extra, member_extra=member_extra)
    return TestClient(create_app())


def book(client: TestClient, start: datetime, **overrides: Any) -> Any:
    return client.post("/bookings", json=booking_request(start=start.isoformat(), **overrides), headers=AUTH)


def hosts_of(client: TestClient, starts: list[datetime]) -> list[str]:
    answers = [book(client, start) for start in starts]
    assert all(answer.status_code == 202 for answer in answers), [answer.json() for answer in answers]
    return [answer.json()["host_id"] for answer in answers]


def availability(client: TestClient, start: datetime, hours: int = 2) -> Any:
    query = {"object_type": "Lead", "record_id": "00Q000000000001AAA", "start": start.isoformat(),
             "end": (start + timedelta(hours=hours)).isoformat()}
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


def test_a_member_back_from_a_week_away_is_calibrated_not_flooded(chain: BookingChain) -> None:
    clock = Clock(NOW)
    away = {H3: ', out_of_office: [{start: "2030-01-07T00:00:00+00:00", end: "2030-01-14T00:00:00+00:00"}]'}
    client = setup(chain, "round_robin", ", balance: calibration", clock, away)
    first_week = []
    for day in range(5):
        clock.now = NOW + timedelta(days=day)
        first_week += hosts_of(client, [NINE + timedelta(days=day, hours=hour) for hour in (0, 1)])
    assert sorted(first_week) == [H1] * 5 + [H2] * 5
    clock.now = NOW + timedelta(days=7)
    back = hosts_of(client, [NINE + timedelta(days=7, hours=hour) for hour in range(6)])
    assert back.count(H3) == 2  # her share of six, not six in a row


def test_without_calibration_the_member_back_takes_every_meeting_until_level(chain: BookingChain) -> None:
    clock = Clock(NOW)
    away = {H3: ', out_of_office: [{start: "2030-01-07T00:00:00+00:00", end: "2030-01-14T00:00:00+00:00"}]'}
    client = setup(chain, "pooled", "", clock, away)
    for day in range(2):
        clock.now = NOW + timedelta(days=day)
        hosts_of(client, [NINE + timedelta(days=day, hours=hour) for hour in (0, 1)])
    clock.now = NOW + timedelta(days=7)
    assert hosts_of(client, [NINE + timedelta(days=7, hours=hour) for hour in range(2)]) == [H3, H3]


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


def test_the_store_refuses_a_booking_past_a_cap_even_when_availability_was_read_before() -> None:
    """Two bookings racing for one host's last meeting of the day: the reservation counts again."""
    from adapters.store import make_engine, upgrade_schema
    from adapters.store.bookings import BookingStore, CapLimit, CapReached, Hold

    engine = make_engine("sqlite://")
    upgrade_schema(engine)
    store = BookingStore(engine)
    day = CapLimit(H1, NINE.replace(hour=0), NINE.replace(hour=0) + timedelta(days=1), 1, "day cap 1 reached")

    def row(number: int) -> dict[str, Any]:
        start = NINE + timedelta(hours=number)
        return {"id": f"b{number}", "status": "reserved", "booking_type": "Intro", "object_type": "Lead",
                "record_id": "00Q000000000001AAA", "scheduler_user_id": H2, "host_id": H1, "pool": "Handover",
                "co_host_ids": [], "starts_at": start, "ends_at": start + timedelta(minutes=30),
                "guest_email": "pat@example.org", "invitees": [], "platform": "none", "request": {},
                "created_at": NOW, "updated_at": NOW}

    store.reserve(row(0), [Hold(H1, NINE, NINE + timedelta(minutes=30))], [day])
    with pytest.raises(CapReached, match="day cap 1 reached"):
        store.reserve(row(2), [Hold(H1, NINE + timedelta(hours=2), NINE + timedelta(hours=3))], [day])
    assert store.get("b2") is None
