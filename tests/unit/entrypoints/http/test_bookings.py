"""The booking API: availability, reserve (202, 409 with alternatives, 422 naming the field), status, meet
now, bearer token; and 20 concurrent bookings of one slot on SQLite, of which exactly one wins."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.calendar import RecordingCalendar
from adapters.salesforce.events import RecordingSalesforceEvents
from baton import runtime
from entrypoints.http.app import create_app
from routing.booking.slots import Interval
from tests.support.booking import (
    HOSTS,
    NINE,
    NOW,
    TOKEN,
    BookingChain,
    assert_one_of_twenty_wins,
    booking_request,
    host_email,
    install_booking_ports,
)
from tests.support.pipeline import Pipeline

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def chain(pipeline: Pipeline) -> Iterator[BookingChain]:
    calendar, events = RecordingCalendar(), RecordingSalesforceEvents()
    install_booking_ports(pipeline.app, pipeline.store, calendar, events)
    chain = BookingChain(pipeline.app, pipeline.broker, pipeline.store, calendar, events)
    yield chain
    chain.drain()  # a message still in a worker when it stops would stay unfinished on the session's broker


@pytest.fixture
def client(chain: BookingChain) -> TestClient:
    return TestClient(create_app(chain.app))


def post(client: TestClient, **overrides: Any) -> Any:
    return client.post("/bookings", json=booking_request(**overrides), headers=AUTH)


def availability(client: TestClient, **params: Any) -> Any:
    query = {"object_type": "Lead", "record_id": "00Q000000000001AAA", "start": NINE.isoformat(),
             "end": (NINE + timedelta(hours=2)).isoformat(), **params}
    return client.get("/availability", params=query, headers=AUTH)


def test_the_booking_api_needs_a_bearer_token_and_lets_nobody_in_without_one(client: TestClient,
                                                                             chain: BookingChain) -> None:
    first = post(client)
    assert first.status_code == 202, first.text
    assert client.post("/bookings", json=booking_request(), headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/bookings/x").status_code == 401
    chain.app.settings = chain.app.settings.model_copy(update={"booking_token": None})
    assert client.get("/bookings/x", headers=AUTH).status_code == 401


def test_availability_lists_slots_with_the_hosts_free_at_each(client: TestClient, chain: BookingChain) -> None:
    chain.calendar.busy_by_email = {host_email(HOSTS[0]): [Interval(NINE, NINE + timedelta(minutes=30))]}

    answer = availability(client).json()

    assert answer["booking_type"] == "Intro" and answer["mode"] == "pooled"
    slots = {slot["start"]: slot["host_ids"] for slot in answer["slots"]}
    assert set(slots["2030-01-07T09:00:00+00:00"]) == {HOSTS[1], HOSTS[2]}
    assert set(slots["2030-01-07T10:00:00+00:00"]) == set(HOSTS)
    assert HOSTS[0] not in slots["2030-01-07T09:30:00+00:00"]  # the 10-minute buffer before meets the busy time


def test_co_hosts_leave_only_times_when_everyone_is_free(client: TestClient, chain: BookingChain) -> None:
    chain.calendar.busy_by_email = {host_email(HOSTS[2]): [Interval(NINE, NINE + timedelta(hours=1))]}

    answer = availability(client, co_hosts=[HOSTS[2]]).json()

    starts = [slot["start"] for slot in answer["slots"]]
    assert starts[0] == "2030-01-07T10:30:00+00:00"  # 10:00 would need the co-host from 09:50 (buffer)
    assert all(HOSTS[2] not in slot["host_ids"] for slot in answer["slots"])


def test_a_booking_answers_202_and_its_status_shows_it_confirmed(client: TestClient, chain: BookingChain) -> None:
    answer = post(client)
    assert answer.status_code == 202
    body = answer.json()
    assert body["status"] == "reserved" and body["start"] == NINE.isoformat()

    chain.drain()

    status = client.get(body["status_url"], headers=AUTH).json()
    assert status["status"] == "confirmed" and status["meet_link"] and status["salesforce_event_id"]


def test_a_pooled_booking_at_a_taken_time_goes_to_another_free_member(client: TestClient) -> None:
    hosts = [post(client, guest_email=f"g{index}@prospect.example.org").json()["host_id"] for index in range(3)]

    assert sorted(hosts) == sorted(HOSTS)
    conflict = post(client, guest_email="late@prospect.example.org")
    assert conflict.status_code == 409
    assert [slot["start"] for slot in conflict.json()["alternatives"]] == [
        "2030-01-07T10:00:00+00:00", "2030-01-07T10:30:00+00:00", "2030-01-07T11:00:00+00:00"]


def test_a_host_who_becomes_busy_after_availability_gets_a_409_with_alternatives(
    client: TestClient, chain: BookingChain
) -> None:
    host = {"kind": "user", "user_id": HOSTS[0]}
    offered = availability(client, host_kind="user", host_user_id=HOSTS[0]).json()
    assert offered["slots"][0]["start"] == NINE.isoformat()
    chain.calendar.busy_by_email = {host_email(HOSTS[0]): [Interval(NINE, NINE + timedelta(minutes=45))]}

    conflict = post(client, host=host)

    assert conflict.status_code == 409
    body = conflict.json()
    assert body["detail"] == f"{NINE.isoformat()} is not free"
    assert [slot["start"] for slot in body["alternatives"]][:1] == ["2030-01-07T10:00:00+00:00"]
    assert all(slot["host_ids"] == [HOSTS[0]] for slot in body["alternatives"])


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"guest_email": "not-an-email"}, "guest_email"),
        ({"invitees": ["ok@example.org", "bad@"]}, "invitees"),
        ({"start": "2030-01-07T09:00:00"}, "start"),  # no time zone
        ({"start": "2030-01-07T07:00:00+00:00"}, "start"),  # before working hours
        ({"start": "2030-01-07T09:10:00+00:00"}, "start"),  # off the 30-minute step
        ({"start": "2030-02-07T09:00:00+00:00"}, "start"),  # beyond the 14-day horizon
        ({"start": "2030-01-05T09:00:00+00:00"}, "start"),  # in the past
        ({"meeting_type": "Lunch"}, "meeting_type"),
        ({"host": {"kind": "pool", "team": "Nobody"}}, "host"),
        ({"object_type": "Case"}, "object_type"),
        ({"co_hosts": ["005000000000099AAA"]}, "co_hosts"),
        ({"extra_pools": ["Engineers", "Engineers"]}, "extra_pools"),
    ],
)
def test_invalid_requests_get_a_422_naming_the_field(client: TestClient, overrides: dict[str, Any], field: str
                                                     ) -> None:
    answer = post(client, **overrides)

    assert answer.status_code == 422
    assert field in [part for problem in answer.json()["detail"] for part in problem["loc"]]


def test_meet_now_books_a_host_free_from_now(client: TestClient, chain: BookingChain) -> None:
    at_ten = NINE + timedelta(hours=1)
    install_booking_ports(chain.app, chain.store, chain.calendar, chain.events, clock=lambda: at_ten)
    chain.calendar.busy_by_email = {host_email(host): [Interval(at_ten, at_ten + timedelta(minutes=5))]
                                    for host in HOSTS[:2]}

    body = client.post("/bookings/meet-now", json=booking_request(start=None), headers=AUTH).json()

    assert body["host_id"] == HOSTS[2] and body["start"] == at_ten.isoformat()


def test_twenty_concurrent_bookings_of_one_hosts_slot_on_sqlite_exactly_one_wins(
    tmp_path: Any, stub_runtime: runtime.Runtime
) -> None:
    assert_one_of_twenty_wins(stub_runtime, f"sqlite:///{tmp_path / 'race.sqlite3'}")


def platform_event(uuid: str, **fields: Any) -> dict[str, Any]:
    payload = {"Object_Type__c": "Lead", "Record_Id__c": "00Q000000000001AAA", "Start__c": NINE.isoformat(),
               "Guest_Email__c": "pat@prospect.example.org", "Invitees__c": "a@example.org; b@example.org",
               "CreatedById": "005000000000009AAA", "CreatedDate": "2030-01-07T08:00:00.000Z", **fields}
    return {"channel": "/event/Booking_Request__e",
            "data": {"schema": "x", "payload": payload, "event": {"replayId": 7, "EventUuid": uuid}}}


def test_booking_request_platform_events_are_booked_once_through_the_queue(
    client: TestClient, chain: BookingChain
) -> None:
    event = platform_event("4f1e-uuid")
    answer = client.post("/bookings/events", json=[event, event], headers=AUTH)
    assert answer.status_code == 202 and answer.json() == {"accepted": 2}

    chain.drain()

    [created] = chain.calendar.created
    assert set(created.attendee_emails) >= {"pat@prospect.example.org", "a@example.org", "b@example.org"}
    [booking_id] = chain.events.events
    assert chain.bookings.get(booking_id).status == "confirmed"  # type: ignore[union-attr]


def test_a_platform_event_with_a_bad_field_is_refused_naming_it(client: TestClient) -> None:
    answer = client.post("/bookings/events", json=platform_event("x", Guest_Email__c="nobody"), headers=AUTH)

    assert answer.status_code == 422 and "guest_email" in answer.json()["detail"]


def test_round_robin_gives_each_booking_to_the_member_with_the_fewest_meetings(
    client: TestClient, chain: BookingChain
) -> None:
    install_booking_ports(chain.app, chain.store, chain.calendar, chain.events, mode="round_robin")

    hosts = [post(client, start=(NINE + timedelta(hours=hour)).isoformat()).json()["host_id"] for hour in range(4)]

    assert hosts == [HOSTS[0], HOSTS[1], HOSTS[2], HOSTS[0]]


def test_a_manual_pool_books_the_member_the_scheduler_picked(client: TestClient, chain: BookingChain) -> None:
    install_booking_ports(chain.app, chain.store, chain.calendar, chain.events, mode="manual")

    picked = post(client, pool_member_id=HOSTS[2])
    stranger = post(client, pool_member_id="005000000000077AAA", start=(NINE + timedelta(hours=1)).isoformat())

    assert picked.status_code == 202 and picked.json()["host_id"] == HOSTS[2]
    assert stranger.status_code == 422 and stranger.json()["detail"][0]["loc"] == ["body", "pool_member_id"]


def test_show_all_lists_each_hosts_own_free_starts_beside_the_slots(client: TestClient, chain: BookingChain) -> None:
    chain.calendar.busy_by_email = {host_email(HOSTS[0]): [Interval(NINE, NINE + timedelta(hours=1))]}

    answer = availability(client, show_all="true").json()

    by_host = answer["by_host"]
    assert set(by_host) == set(HOSTS)
    assert by_host[HOSTS[1]][:2] == ["2030-01-07T09:00:00+00:00", "2030-01-07T09:30:00+00:00"]
    assert by_host[HOSTS[0]][0] == "2030-01-07T10:30:00+00:00"  # busy until 10:00, then the 10-minute buffer
    slots = {slot["start"]: set(slot["host_ids"]) for slot in answer["slots"]}
    assert all(start in slots and host in slots[start] for host, starts in by_host.items() for start in starts)


@pytest.mark.parametrize(("reset", "tuesday_host"), [("month", HOSTS[2]), ("day", HOSTS[0])])
def test_round_robin_counts_meetings_only_since_the_pools_reset(
    client: TestClient, chain: BookingChain, reset: str, tuesday_host: str
) -> None:
    """Two bookings on Monday; on Tuesday a monthly count still sees them, a daily one starts again."""
    install_booking_ports(chain.app, chain.store, chain.calendar, chain.events, mode="round_robin", reset=reset)
    monday = [post(client, start=(NINE + timedelta(hours=hour)).isoformat()).json()["host_id"] for hour in (0, 1)]
    tuesday_morning = NOW + timedelta(days=1)
    install_booking_ports(chain.app, chain.store, chain.calendar, chain.events, clock=lambda: tuesday_morning,
                          mode="round_robin", reset=reset)

    tuesday = post(client, start=(NINE + timedelta(days=1)).isoformat())

    assert monday == [HOSTS[0], HOSTS[1]]
    assert tuesday.status_code == 202, tuesday.text
    assert tuesday.json()["host_id"] == tuesday_host
