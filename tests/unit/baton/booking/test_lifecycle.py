"""The meeting lifecycle through the booking API: cancel (time freed, calendar event cancelled, Salesforce
Event updated, pool credit given back as configured), no-show, reschedule (same host when free, else
routed again; one calendar event and one Salesforce Event moved, never two) and reassign (previous host
credited back, reason logged). The chain runs on the StubBroker with recording calendar and Event fakes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from adapters.calendar import RecordingCalendar, calendar_event_id
from adapters.salesforce.events import RecordingSalesforceEvents
from entrypoints.http.app import create_app
from routing.booking.slots import Interval
from routing.loop_guard import fields_baton_writes
from tests.support.booking import (
    HOSTS,
    NINE,
    NOW,
    TOKEN,
    BookingChain,
    booking_request,
    host_email,
    install_booking_ports,
)
from tests.support.pipeline import Pipeline

AUTH = {"Authorization": f"Bearer {TOKEN}"}
H1, H2, H3 = HOSTS
ELEVEN = NINE + timedelta(hours=2)


@pytest.fixture
def chain(pipeline: Pipeline) -> Iterator[BookingChain]:
    chain = BookingChain(pipeline.app, pipeline.broker, pipeline.store, RecordingCalendar(), RecordingSalesforceEvents())
    yield chain
    chain.drain()


def client_for(chain: BookingChain, mode: str = "round_robin", pool_extra: str = "") -> TestClient:
    install_booking_ports(chain.app, chain.store, chain.calendar, chain.events, mode=mode, pool_extra=pool_extra)
    return TestClient(create_app(chain.app))


def book(client: TestClient, chain: BookingChain, start: Any = NINE, **overrides: Any) -> dict[str, Any]:
    answer = client.post("/bookings", json=booking_request(start=start.isoformat(), **overrides), headers=AUTH)
    assert answer.status_code == 202, answer.json()
    chain.drain()
    return client.get(answer.json()["status_url"], headers=AUTH).json()


def act(client: TestClient, chain: BookingChain, booking_id: str, action: str, body: Any = None) -> Any:
    answer = client.post(f"/bookings/{booking_id}/{action}", json=body, headers=AUTH)
    chain.drain()
    return answer


def test_a_cancelled_meeting_frees_the_time_cancels_the_event_and_updates_the_salesforce_event(
    chain: BookingChain,
) -> None:
    client = client_for(chain)
    booked = book(client, chain, host={"kind": "user", "user_id": H1})
    assert booked["status"] == "confirmed"

    answer = act(client, chain, booked["booking_id"], "cancel", {"reason": "prospect asked"})

    assert answer.status_code == 202 and answer.json()["status"] == "cancelled"
    assert chain.calendar.cancelled == [(host_email(H1), calendar_event_id(booked["booking_id"]))]
    event = chain.events.events[booked["booking_id"]]
    assert event["Subject"].startswith("Cancelled: ") and event["ShowAs"] == "Free"
    assert len(chain.events.events) == 1
    written = {name for _, fields in chain.events.upserts for name in fields}
    assert written <= fields_baton_writes("Event")  # the loop guard knows every Event field Baton writes
    again = book(client, chain, host={"kind": "user", "user_id": H1}, guest_email="other@prospect.example.org")
    assert again["host_id"] == H1 and again["start"] == booked["start"]  # the time is free again
    assert act(client, chain, booked["booking_id"], "cancel").status_code == 202  # cancelling twice is fine
    assert act(client, chain, booked["booking_id"], "reschedule", {"start": ELEVEN.isoformat()}).status_code == 409


@pytest.mark.parametrize(("cancelled", "next_host"), [("credit_back", H1), ("count", H2)])
def test_a_cancelled_meeting_gives_the_pool_credit_back_when_the_pool_says_so(
    chain: BookingChain, cancelled: str, next_host: str
) -> None:
    client = client_for(chain, pool_extra=f", cancelled: {cancelled}")
    first = book(client, chain)
    assert first["host_id"] == H1
    act(client, chain, first["booking_id"], "cancel")
    assert book(client, chain, NINE + timedelta(hours=1))["host_id"] == next_host


@pytest.mark.parametrize(("no_show", "next_host"), [("count", H2), ("exclude", H1)])
def test_a_no_show_is_counted_or_excluded_as_the_pool_says(chain: BookingChain, no_show: str, next_host: str) -> None:
    client = client_for(chain, pool_extra=f", no_show: {no_show}")
    first = book(client, chain)
    answer = act(client, chain, first["booking_id"], "no-show")
    assert answer.status_code == 202 and answer.json()["status"] == "no_show"
    assert chain.events.events[first["booking_id"]]["Subject"].startswith("No-show: ")
    assert book(client, chain, NINE + timedelta(hours=1))["host_id"] == next_host


def test_a_rescheduled_meeting_keeps_its_host_and_moves_the_one_event_and_the_one_salesforce_event(
    chain: BookingChain,
) -> None:
    client = client_for(chain)
    first = book(client, chain)

    answer = act(client, chain, first["booking_id"], "reschedule", {"start": ELEVEN.isoformat()})

    assert answer.status_code == 202, answer.json()
    moved = client.get(f"/bookings/{first['booking_id']}", headers=AUTH).json()
    assert (moved["host_id"], moved["start"]) == (H1, ELEVEN.isoformat())
    event_id = calendar_event_id(first["booking_id"])
    assert [(event.organizer_email, event.event_id, event.start, event.end) for event in chain.calendar.updated] == [
        (host_email(H1), event_id, ELEVEN, ELEVEN + timedelta(minutes=30))]
    assert list(chain.calendar.events) == [event_id] and len(chain.calendar.created) == 1
    assert len(chain.events.events) == 1
    assert chain.events.events[first["booking_id"]]["StartDateTime"] == "2030-01-07T11:00:00.000+0000"
    # The old time is free for the host again.
    assert book(client, chain, host={"kind": "user", "user_id": H1})["start"] == NINE.isoformat()


def test_a_reschedule_to_a_time_the_host_is_busy_goes_to_another_free_member(chain: BookingChain) -> None:
    client = client_for(chain, mode="pooled")
    first = book(client, chain)
    chain.calendar.busy_by_email[host_email(H1)] = [Interval(ELEVEN, ELEVEN + timedelta(hours=1))]

    act(client, chain, first["booking_id"], "reschedule", {"start": ELEVEN.isoformat()})

    moved = client.get(f"/bookings/{first['booking_id']}", headers=AUTH).json()
    assert moved["host_id"] == H2
    event_id = calendar_event_id(first["booking_id"])
    event = chain.calendar.events[event_id]
    assert event.organizer_email == host_email(H2) and len(chain.calendar.events) == 1
    assert (event.start, host_email(H1) in event.attendee_emails) == (ELEVEN, False)
    assert chain.calendar.transferred == [(host_email(H1), event_id, host_email(H2))]
    assert chain.calendar.cancelled == [] and len(chain.calendar.created) == 1  # moved, never cancelled and re-sent
    assert chain.events.events[first["booking_id"]]["OwnerId"] == H2 and len(chain.events.events) == 1


@pytest.mark.parametrize(("reschedule", "host"), [("same_host", H1), ("reroute", H2)])
def test_a_reschedule_keeps_the_host_or_routes_again_as_the_pool_says(
    chain: BookingChain, reschedule: str, host: str
) -> None:
    client = client_for(chain, mode="pooled", pool_extra=f", reschedule: {reschedule}")
    first = book(client, chain)
    ten = NINE + timedelta(hours=1)
    chain.calendar.busy_by_email.update({host_email(other): [Interval(ten, ten + timedelta(hours=1))]
                                         for other in (H2, H3)})
    assert book(client, chain, ten)["host_id"] == H1  # H1 now has two meetings, H2 and H3 none
    chain.calendar.busy_by_email.clear()

    act(client, chain, first["booking_id"], "reschedule", {"start": ELEVEN.isoformat()})

    assert client.get(f"/bookings/{first['booking_id']}", headers=AUTH).json()["host_id"] == host


def test_a_reassigned_meeting_goes_to_another_member_and_the_previous_host_is_credited_back(
    chain: BookingChain,
) -> None:
    client = client_for(chain)
    first = book(client, chain)
    assert first["host_id"] == H1

    with capture_logs() as logs:
        answer = act(client, chain, first["booking_id"], "reassign", {"reason": "H1 is sick"})

    assert answer.status_code == 202 and answer.json()["host_id"] == H2
    moved = [entry for entry in logs if entry["event"] == "booking_moved"]
    assert moved[0]["previous_host_id"] == H1 and moved[0]["reason"] == "H1 is sick"
    with chain.store.decisions.transaction() as transaction:
        record = transaction.record_states([("Lead", first["record_id"])])[("Lead", first["record_id"])]
    assert record.owner_id == H2  # the record's owner follows the meeting (a decision and outbox row of its own)
    assert book(client, chain, NINE + timedelta(hours=1))["host_id"] == H1  # credited back: fewest again
    named = act(client, chain, first["booking_id"], "reassign", {"host_id": H3, "reason": "expert"})
    assert named.json()["host_id"] == H3


def test_a_reassigned_meeting_moves_its_one_calendar_event_and_updates_its_one_salesforce_event(
    chain: BookingChain,
) -> None:
    """The guests keep one event (same id): it changes organizer, the previous host leaves its attendees and
    the new host joins; the Salesforce Event is the same record with the new owner. A repeated sync and a
    second reassignment move that same event again."""
    client = client_for(chain)
    first = book(client, chain)
    event_id = calendar_event_id(first["booking_id"])
    salesforce_id = chain.events.events[first["booking_id"]]["Id"]

    act(client, chain, first["booking_id"], "reassign", {"reason": "H1 is sick"})

    assert chain.calendar.transferred == [(host_email(H1), event_id, host_email(H2))]
    assert chain.calendar.cancelled == [] and len(chain.calendar.created) == 1
    event = chain.calendar.events[event_id]
    assert event.organizer_email == host_email(H2) and event.start == NINE
    assert host_email(H2) in event.attendee_emails and host_email(H1) not in event.attendee_emails
    assert "pat@prospect.example.org" in event.attendee_emails and "with Rep 2" in event.summary
    sf_event = chain.events.events[first["booking_id"]]
    assert (sf_event["Id"], sf_event["OwnerId"], len(chain.events.events)) == (salesforce_id, H2, 1)

    from baton.booking.lifecycle import send_sync
    from baton.booking.ports import BookingPorts

    send_sync(chain.broker, first["booking_id"], BookingPorts.of(chain.app.ports))
    chain.drain()
    assert len(chain.calendar.transferred) == 1 and len(chain.calendar.updated) == 1  # nothing more to change

    act(client, chain, first["booking_id"], "reassign", {"host_id": H3, "reason": "expert"})
    assert chain.calendar.transferred[-1] == (host_email(H2), event_id, host_email(H3))
    assert list(chain.calendar.events) == [event_id] and len(chain.calendar.created) == 1


def test_a_move_the_calendar_refuses_falls_back_to_cancelling_and_inviting_again_under_the_same_id(
    chain: BookingChain,
) -> None:
    """Google refuses ``events.move`` (403: the previous host may not write to the new host's calendar): the event
    is cancelled on the previous host's calendar and made on the new host's, so there is still one live event."""
    client = client_for(chain)
    first = book(client, chain)
    event_id = calendar_event_id(first["booking_id"])
    chain.calendar.refuse_moves_to.add(host_email(H2))

    with capture_logs() as logs:
        assert act(client, chain, first["booking_id"], "reassign", {"reason": "H1 left"}).status_code == 202

    assert [entry["status"] for entry in logs if entry["event"] == "calendar_event_move_refused"] == [403]
    assert chain.calendar.cancelled == [(host_email(H1), event_id)]
    assert list(chain.calendar.events) == [event_id]
    assert chain.calendar.events[event_id].organizer_email == host_email(H2)
    assert len(chain.events.events) == 1


def test_a_rescheduled_multi_pool_meeting_keeps_its_engineer_within_their_pools_day_cap(chain: BookingChain) -> None:
    from tests.support.booking import ENGINEERS

    client = client_for(chain, mode="pooled")
    install_booking_ports(chain.app, chain.store, chain.calendar, chain.events, engineers_extra=", caps: {per_day: 1}")
    day_two = NINE + timedelta(days=1)
    first = book(client, chain, extra_pools=["Engineers"])
    assert book(client, chain, start=day_two, extra_pools=["Engineers"])["co_host_ids"] == [ENGINEERS[1]]
    assert book(client, chain, start=day_two + timedelta(hours=2), extra_pools=["Engineers"])["co_host_ids"] == [
        ENGINEERS[0]]

    answer = act(client, chain, first["booking_id"], "reschedule", {"start": (day_two + timedelta(hours=4)).isoformat()})

    assert answer.status_code == 409 and "day cap 1 reached" in answer.text
    assert client.get(f"/bookings/{first['booking_id']}", headers=AUTH).json()["start"] == NINE.isoformat()


def _decline(chain: BookingChain, booked: dict[str, Any], co_host: str, moved_to: datetime | None = None) -> int:
    """The co-host declines in their calendar (and the host moved the event to ``moved_to``); the main host's
    calendar reports it and the scheduler polls."""
    from adapters.calendar import ChangedEvent
    from baton.booking.calendar_sync import poll_calendars
    from baton.booking.ports import BookingPorts

    start = moved_to or datetime.fromisoformat(booked["start"])
    chain.calendar.host_changed(host_email(booked["host_id"]), ChangedEvent(
        calendar_event_id(booked["booking_id"]), "confirmed", start, start + timedelta(minutes=30),
        {host_email(co_host): "declined"}))
    changed = poll_calendars(BookingPorts.of(chain.app.ports), chain.broker, NOW)
    chain.drain()
    return changed


def _held(chain: BookingChain, host_id: str) -> list[Any]:
    return chain.bookings.held_times([host_id], NINE, NINE + timedelta(hours=8))[host_id]


def test_a_co_host_who_declines_is_replaced_by_a_free_member_of_the_pool_they_came_from(
    chain: BookingChain,
) -> None:
    from tests.support.booking import ENGINEERS

    client = client_for(chain, mode="pooled")
    booked = book(client, chain, extra_pools=["Engineers"])
    assert booked["co_host_ids"] == [ENGINEERS[0]]

    with capture_logs() as logs:
        assert _decline(chain, booked, ENGINEERS[0]) == 1

    after = client.get(f"/bookings/{booked['booking_id']}", headers=AUTH).json()
    assert (after["co_host_ids"], after["start"], after["status"]) == ([ENGINEERS[1]], booked["start"], "confirmed")
    assert _held(chain, ENGINEERS[0]) == [] and len(_held(chain, ENGINEERS[1])) == 1
    event = chain.calendar.events[calendar_event_id(booked["booking_id"])]
    assert host_email(ENGINEERS[1]) in event.attendee_emails
    replaced = [entry for entry in logs if entry["event"] == "booking_co_host_replaced"]
    assert (replaced[0]["co_host_id"], replaced[0]["replacement_id"]) == (ENGINEERS[0], ENGINEERS[1])
    assert _group_hosts(chain, booked["booking_id"]) == {"Engineers": ENGINEERS[1]}  # counts for the pool now


def _group_hosts(chain: BookingChain, booking_id: str) -> dict[str, str]:
    import sqlalchemy as sa

    from adapters.store.tables import booking_group_hosts

    with chain.store.engine.connect() as connection:
        rows = connection.execute(sa.select(booking_group_hosts).where(booking_group_hosts.c.booking_id == booking_id))
        return {row.pool: row.host_id for row in rows}


def test_a_co_host_declining_a_meeting_the_host_also_moved_is_replaced_at_the_new_time(chain: BookingChain) -> None:
    from tests.support.booking import ENGINEERS

    client = client_for(chain, mode="pooled")
    booked = book(client, chain, extra_pools=["Engineers"])
    chain.calendar.busy_by_email[host_email(ENGINEERS[1])] = [Interval(NINE, NINE + timedelta(hours=1))]

    assert _decline(chain, booked, ENGINEERS[0], moved_to=ELEVEN) == 1

    after = client.get(f"/bookings/{booked['booking_id']}", headers=AUTH).json()
    assert (after["start"], after["co_host_ids"]) == (ELEVEN.isoformat(), [ENGINEERS[1]])  # free at 11, not at 9
    assert [(hold.start, hold.end) for hold in _held(chain, ENGINEERS[1])] == [
        (ELEVEN - timedelta(minutes=10), ELEVEN + timedelta(minutes=40))]


@pytest.mark.parametrize("case", ["pool says release", "nobody free", "the free member is at the pool's cap",
                                  "named co-host"])
def test_a_co_host_who_declines_and_is_not_replaced_leaves_the_booking_which_keeps_its_time(
    chain: BookingChain, case: str
) -> None:
    from tests.support.booking import ENGINEERS

    extra = {"pool says release": ", co_host_declines: release",
             "the free member is at the pool's cap": ", caps: {per_day: 1}"}.get(case, "")
    client = client_for(chain, mode="pooled")
    install_booking_ports(chain.app, chain.store, chain.calendar, chain.events, engineers_extra=extra)
    if case == "nobody free":
        chain.calendar.busy_by_email[host_email(ENGINEERS[1])] = [Interval(NINE, NINE + timedelta(hours=1))]
    if case == "named co-host":
        booked, leaving = book(client, chain, co_hosts=[H3]), H3
    else:
        booked, leaving = book(client, chain, extra_pools=["Engineers"]), ENGINEERS[0]
    if case == "the free member is at the pool's cap":  # the other engineer's one meeting that day
        assert book(client, chain, start=ELEVEN, extra_pools=["Engineers"])["co_host_ids"] == [ENGINEERS[1]]

    with capture_logs() as logs:
        assert _decline(chain, booked, leaving) == 1

    after = client.get(f"/bookings/{booked['booking_id']}", headers=AUTH).json()
    assert (after["co_host_ids"], after["start"], after["host_id"]) == ([], booked["start"], booked["host_id"])
    assert _held(chain, leaving) == [] and _group_hosts(chain, booked["booking_id"]) == {}
    event = chain.calendar.events[calendar_event_id(booked["booking_id"])]
    assert host_email(ENGINEERS[1]) not in event.attendee_emails
    [released] = [entry for entry in logs if entry["event"] == "booking_co_host_released"]
    assert released["co_host_id"] == leaving and released["log_level"] == "warning"
    assert _decline(chain, booked, leaving) == 0  # no longer a co-host: nothing more happens


def test_lifecycle_requests_are_checked_strictly(chain: BookingChain) -> None:
    client = client_for(chain)
    first = book(client, chain)
    assert act(client, chain, "no-such-booking", "cancel").status_code == 404
    unknown_key = act(client, chain, first["booking_id"], "reschedule", {"start": ELEVEN.isoformat(), "when": 1})
    assert unknown_key.status_code == 422 and unknown_key.json()["detail"][0]["loc"] == ["body", "when"]
    no_reason = act(client, chain, first["booking_id"], "reassign", {})
    assert no_reason.status_code == 422 and no_reason.json()["detail"][0]["loc"] == ["body", "reason"]
    outside = act(client, chain, first["booking_id"], "reschedule", {"start": (NOW - timedelta(days=1)).isoformat()})
    assert outside.status_code == 422 and outside.json()["detail"][0]["loc"] == ["body", "start"]


def test_operators_reassign_and_cancel_a_meeting_from_the_command_line(tmp_path: Any) -> None:
    """``baton booking reassign ID --reason`` and ``baton booking cancel ID`` print the booking as JSON."""
    import json
    from datetime import UTC, datetime

    from adapters.store import Store, make_engine, upgrade_schema
    from adapters.store.bookings import SqlBookings
    from baton.configs import apply_config
    from kernel.ports.bookings import Hold, NewBooking
    from tests.support.booking import booking_config
    from tests.support.cli import run_baton

    url = f"sqlite:///{tmp_path / 'baton.sqlite3'}"
    engine = make_engine(url)
    upgrade_schema(engine)
    apply_config(Store(engine).administration, booking_config("pooled"), NOW)
    day = datetime.now(UTC).date() + timedelta(days=2)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    start = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
    row = NewBooking(id="op-1", status="confirmed", booking_type="Intro", object_type="Lead",
                     record_id="00Q000000000001AAA", scheduler_user_id=H3, host_id=H1, pool="Handover",
                     co_host_ids=[], starts_at=start, ends_at=start + timedelta(minutes=30),
                     guest_email="pat@prospect.example.org", invitees=[], platform="none",
                     request=booking_request(start=start.isoformat()), created_at=start - timedelta(days=3))
    SqlBookings(engine).reserve(row, [Hold(H1, start - timedelta(minutes=10), start + timedelta(minutes=40))])
    engine.dispose()

    moved = run_baton(url, "booking", "reassign", "op-1", "--reason", "Rep 1 is off sick")
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout)["host_id"] == H2
    cancelled = run_baton(url, "booking", "cancel", "op-1")
    assert cancelled.returncode == 0 and json.loads(cancelled.stdout)["status"] == "cancelled"


def test_a_salesforce_event_change_setting_the_no_show_field_marks_the_booking(
    pipeline: Pipeline, chain: BookingChain
) -> None:
    from datetime import UTC, datetime

    from messages import ChangeType, RecordEvent, Source

    client = client_for(chain)
    booked = book(client, chain)
    event_id = chain.events.events[booked["booking_id"]]["Id"]
    other = RecordEvent(object_type="Event", record_id=event_id, fields={"Subject": "renamed"},
                        change_type=ChangeType.UPDATE, changed_fields=["Subject"], source=Source.CHANGE_EVENT,
                        source_event_id="evt-1", commit_timestamp=datetime(2030, 1, 7, 10, tzinfo=UTC),
                        received_at=datetime(2030, 1, 7, 10, tzinfo=UTC))
    pipeline.send([other])
    pipeline.drain()
    assert client.get(f"/bookings/{booked['booking_id']}", headers=AUTH).json()["status"] == "confirmed"

    no_show = other.model_copy(update={"fields": {"Baton_No_Show__c": True}, "changed_fields": ["Baton_No_Show__c"],
                                       "source_event_id": "evt-2"})
    pipeline.send([no_show])
    pipeline.drain()
    chain.drain()

    assert client.get(f"/bookings/{booked['booking_id']}", headers=AUTH).json()["status"] == "no_show"
    assert chain.events.events[booked["booking_id"]]["Subject"].startswith("No-show: ")


def test_a_booking_needing_one_host_from_each_of_two_pools_gets_both_all_free_at_the_time(
    chain: BookingChain,
) -> None:
    from tests.support.booking import ENGINEERS

    client = client_for(chain, mode="pooled")
    ten = NINE + timedelta(hours=1)
    chain.calendar.busy_by_email[host_email(ENGINEERS[0])] = [Interval(NINE, ten - timedelta(minutes=10))]
    chain.calendar.busy_by_email[host_email(ENGINEERS[1])] = [Interval(NINE, NINE + timedelta(hours=2))]
    query = {"object_type": "Lead", "record_id": "00Q000000000001AAA", "start": NINE.isoformat(),
             "end": (NINE + timedelta(hours=2)).isoformat(), "extra_pools": ["Engineers"]}
    slots = client.get("/availability", params=query, headers=AUTH).json()["slots"]
    assert slots[0]["start"] == ten.isoformat()  # before 10:00 no engineer is free (10-minute buffers)

    first = book(client, chain, ten, extra_pools=["Engineers"])
    assert first["host_id"] == H1 and first["co_host_ids"] == [ENGINEERS[0]]
    event = chain.calendar.events[calendar_event_id(first["booking_id"])]
    assert host_email(ENGINEERS[0]) in event.attendee_emails
    # At 10:00 H2 is free but both engineers are not (one booked, one busy): no second booking then.
    second = client.post("/bookings", json=booking_request(start=ten.isoformat(), extra_pools=["Engineers"],
                                                           guest_email="two@prospect.example.org"), headers=AUTH)
    assert second.status_code == 409
    refused = client.post("/bookings", json=booking_request(start=NINE.isoformat(), extra_pools=["Engineers"]),
                          headers=AUTH)
    assert refused.status_code == 409
    unknown = client.post("/bookings", json=booking_request(start=ten.isoformat(), extra_pools=["Nobody"]),
                          headers=AUTH)
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "extra_pools", "0"]
