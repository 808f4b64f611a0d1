"""POST /bookings to confirmed with the real clients: google-api-python-client against the fake Calendar
server, simple-salesforce against the fake org (Event upsert, then the owner through the outbox flusher)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from simple_salesforce import Salesforce

from adapters.calendar.google import GoogleCalendar, load_service_account
from adapters.salesforce.events import SalesforceEventWriter
from adapters.salesforce.writer import SalesforceOwnerWriter
from entrypoints.demo.fake_calendar import FakeGoogleCalendar, fake_google_calendar
from entrypoints.demo.fake_salesforce import FakeOrg, fake_salesforce
from entrypoints.http.app import create_app
from tests.support.booking import (
    LEAD_ID,
    NINE,
    TOKEN,
    BookingChain,
    booking_request,
    host_email,
    install_booking_ports,
)
from tests.support.pipeline import Pipeline

ADMIN = "admin@example.com"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def services(tmp_path: Path) -> Iterator[tuple[FakeGoogleCalendar, FakeOrg, Salesforce]]:
    with fake_google_calendar(tmp_path) as calendar, fake_salesforce() as (org, client):
        yield calendar, org, client


def real_clients(pipeline: Pipeline, fake: FakeGoogleCalendar, client: Salesforce,
                 pool_extra: str = "") -> BookingChain:
    """The booking chain with the Google client on the fake Calendar and simple-salesforce on the fake org."""
    assert fake.key_file is not None
    calendar = GoogleCalendar(load_service_account(fake.key_file), ADMIN, fake.api_url)
    install_booking_ports(pipeline.app, pipeline.store, calendar, SalesforceEventWriter(salesforce=client), pool_extra=pool_extra)
    pipeline.use_writer(SalesforceOwnerWriter(salesforce=client))
    return BookingChain(pipeline.app, pipeline.broker, pipeline.store, None, None)  # type: ignore[arg-type]


def test_a_booking_posted_is_confirmed_with_a_meet_event_a_salesforce_event_and_the_new_owner(
    pipeline: Pipeline, services: tuple[FakeGoogleCalendar, FakeOrg, Salesforce]
) -> None:
    fake, org, client = services
    chain = real_clients(pipeline, fake, client)

    answer = TestClient(create_app(pipeline.app)).post("/bookings", json=booking_request(), headers=AUTH)
    assert answer.status_code == 202, answer.text
    booking_id, host = answer.json()["booking_id"], answer.json()["host_id"]
    chain.drain()
    pipeline.flush()

    status = TestClient(create_app(pipeline.app)).get(f"/bookings/{booking_id}", headers=AUTH).json()
    assert status["status"] == "confirmed"
    [event] = fake.live_events(host_email(host))
    assert event["hangoutLink"] == status["meet_link"]
    assert event["sendUpdates"] == "all"
    assert {attendee["email"] for attendee in event["attendees"]} >= {"pat@prospect.example.org", host_email(host)}
    [sf_event] = org.events.records.values()
    assert sf_event["WhoId"] == LEAD_ID and sf_event["OwnerId"] == host
    assert sf_event["Subject"].startswith("Intro: Pat Prospect with Rep")
    assert org.owners[LEAD_ID] == host


def test_a_calendar_busy_block_read_through_google_moves_the_booking_to_another_member(
    pipeline: Pipeline, services: tuple[FakeGoogleCalendar, FakeOrg, Salesforce]
) -> None:
    fake, _, client = services
    chain = real_clients(pipeline, fake, client)
    busy: dict[str, Any] = {host_email(host): [(NINE, NINE + timedelta(hours=1))]
                            for host in ("005000000000001AAA", "005000000000002AAA")}
    fake.busy.update(busy)

    answer = TestClient(create_app(pipeline.app)).post("/bookings", json=booking_request(), headers=AUTH)

    assert answer.status_code == 202 and answer.json()["host_id"] == "005000000000003AAA"
    assert len(fake.freebusy_requests) == 1
    chain.drain()


def _booked(pipeline: Pipeline, chain: BookingChain, **overrides: Any) -> dict[str, Any]:
    answer = TestClient(create_app(pipeline.app)).post("/bookings", json=booking_request(**overrides), headers=AUTH)
    assert answer.status_code == 202, answer.text
    chain.drain()
    pipeline.flush()
    return TestClient(create_app(pipeline.app)).get(answer.json()["status_url"], headers=AUTH).json()


def test_a_rescheduled_booking_moves_its_one_google_event_and_its_one_salesforce_event(
    pipeline: Pipeline, services: tuple[FakeGoogleCalendar, FakeOrg, Salesforce]
) -> None:
    fake, org, client = services
    chain = real_clients(pipeline, fake, client)
    booked = _booked(pipeline, chain)
    later = NINE + timedelta(hours=3)

    answer = TestClient(create_app(pipeline.app)).post(f"/bookings/{booked['booking_id']}/reschedule",
                                           json={"start": later.isoformat()}, headers=AUTH)
    assert answer.status_code == 202, answer.text
    chain.drain()

    [event] = fake.live_events(host_email(booked["host_id"]))
    assert event["start"]["dateTime"] == "2030-01-07T12:00:00Z" and event["sendUpdates"] == "all"
    [sf_event] = org.events.records.values()
    assert sf_event["StartDateTime"].startswith("2030-01-07T12:00:00")


def test_host_changes_in_google_calendar_come_back_through_sync_tokens(
    pipeline: Pipeline, services: tuple[FakeGoogleCalendar, FakeOrg, Salesforce]
) -> None:
    """Deleted: the booking is cancelled and its time freed. Moved: the reservation follows. Declined with
    ``host_declines: reroute``: another pool member hosts and the event moves to their calendar."""
    from baton.booking.calendar_sync import poll_calendars
    from baton.booking.ports import BookingPorts
    from tests.support.booking import HOSTS, NOW

    fake, org, client = services
    chain = real_clients(pipeline, fake, client, pool_extra=", host_declines: reroute")
    deleted, moved = (_booked(pipeline, chain, host={"kind": "user", "user_id": HOSTS[0]},
                              start=(NINE + timedelta(hours=hour)).isoformat()) for hour in (0, 1))
    declined = _booked(pipeline, chain, start=(NINE + timedelta(hours=2)).isoformat())  # the pool's choice
    declining = host_email(declined["host_id"])
    ports = BookingPorts.of(pipeline.app.ports)
    assert poll_calendars(ports, pipeline.broker, NOW) == 0  # the first read only takes a sync token
    calendar = host_email(HOSTS[0])
    fake.host_edit(calendar, deleted["calendar_event_id"], delete=True)
    five = NINE + timedelta(hours=5)
    fake.host_edit(calendar, moved["calendar_event_id"], start=five, end=five + timedelta(minutes=30))
    fake.host_edit(declining, declined["calendar_event_id"], response=(declining, "declined"))

    assert poll_calendars(ports, pipeline.broker, NOW) == 3
    chain.drain()

    def status(booking: dict[str, Any]) -> dict[str, Any]:
        return TestClient(create_app(pipeline.app)).get(f"/bookings/{booking['booking_id']}", headers=AUTH).json()

    assert status(deleted)["status"] == "cancelled"
    assert status(moved)["start"] == five.isoformat()
    rerouted = status(declined)
    assert rerouted["host_id"] != declined["host_id"] and rerouted["status"] == "confirmed"
    assert [e["id"] for e in fake.live_events(host_email(rerouted["host_id"]))] == [declined["calendar_event_id"]]
    subjects = {record["Baton_Booking_Id__c"]: record for record in org.events.records.values()}
    assert subjects[deleted["booking_id"]]["Subject"].startswith("Cancelled: ")
    assert subjects[moved["booking_id"]]["StartDateTime"].startswith("2030-01-07T14:00:00")
    assert subjects[declined["booking_id"]]["OwnerId"] == rerouted["host_id"]
    # the freed hour can be booked again, and a second poll finds nothing new
    assert _booked(pipeline, chain, host={"kind": "user", "user_id": HOSTS[0]},
                   guest_email="new@prospect.example.org")["status"] == "confirmed"
    assert poll_calendars(ports, pipeline.broker, NOW) == 0


def test_a_reassigned_booking_moves_its_one_google_event_and_updates_its_one_salesforce_event(
    pipeline: Pipeline, services: tuple[FakeGoogleCalendar, FakeOrg, Salesforce]
) -> None:
    """``events.move`` gives the one event (same id, Meet link, the guest's answer) to the new host, then a patch
    takes the previous host off it; nothing is cancelled or inserted again. The Salesforce Event is the same
    record with the new owner."""
    fake, org, client = services
    chain = real_clients(pipeline, fake, client)
    booked = _booked(pipeline, chain)
    first_host, event_id = booked["host_id"], booked["calendar_event_id"]
    fake.host_edit(host_email(first_host), event_id, response=("pat@prospect.example.org", "accepted"))
    [sf_before] = org.events.records.values()

    answer = TestClient(create_app(pipeline.app)).post(f"/bookings/{booked['booking_id']}/reassign",
                                           json={"reason": "off sick"}, headers=AUTH)
    assert answer.status_code == 202, answer.text
    new_host = answer.json()["host_id"]
    chain.drain()

    assert fake.live_events(host_email(first_host)) == []
    [event] = fake.live_events(host_email(new_host))
    assert (event["id"], event["organizer"]["email"], event["hangoutLink"]) == (
        event_id, host_email(new_host), booked["meet_link"])
    answers = {attendee["email"]: attendee["responseStatus"] for attendee in event["attendees"]}
    assert host_email(first_host) not in answers and answers[host_email(new_host)] == "accepted"
    assert answers["pat@prospect.example.org"] == "accepted"
    methods = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in fake.requests if r["method"] != "GET"]
    assert ("DELETE", event_id) not in methods and methods.count(("POST", "events")) == 1
    assert methods[-2:] == [("POST", "move"), ("PATCH", event_id)]
    [sf_event] = org.events.records.values()
    assert (sf_event["Id"], sf_event["OwnerId"]) == (sf_before["Id"], new_host)


def test_a_move_google_refuses_falls_back_to_one_cancellation_and_one_new_invitation(
    pipeline: Pipeline, services: tuple[FakeGoogleCalendar, FakeOrg, Salesforce]
) -> None:
    """Hosts who may not make changes to each other's calendars: Google answers the move 403, so the event is
    cancelled on the previous host's calendar and inserted on the new host's under the same id."""
    fake, _, client = services
    chain = real_clients(pipeline, fake, client)
    fake.domain_manages_calendars = False
    booked = _booked(pipeline, chain)

    answer = TestClient(create_app(pipeline.app)).post(f"/bookings/{booked['booking_id']}/reassign",
                                           json={"reason": "left the company"}, headers=AUTH)
    chain.drain()

    event_id, new_host = booked["calendar_event_id"], answer.json()["host_id"]
    assert fake.events[host_email(booked["host_id"])][event_id]["status"] == "cancelled"
    assert [e["id"] for e in fake.live_events(host_email(new_host))] == [event_id]
    status = TestClient(create_app(pipeline.app)).get(f"/bookings/{booked['booking_id']}", headers=AUTH).json()
    assert status["meet_link"] == fake.live_events(host_email(new_host))[0]["hangoutLink"]


def test_a_co_host_declining_in_google_calendar_is_replaced_from_their_pool(
    pipeline: Pipeline, services: tuple[FakeGoogleCalendar, FakeOrg, Salesforce]
) -> None:
    from baton.booking.calendar_sync import poll_calendars
    from baton.booking.ports import BookingPorts
    from tests.support.booking import ENGINEERS, NOW

    fake, _, client = services
    chain = real_clients(pipeline, fake, client)
    booked = _booked(pipeline, chain, extra_pools=["Engineers"])
    assert booked["co_host_ids"] == [ENGINEERS[0]]
    ports = BookingPorts.of(pipeline.app.ports)
    assert poll_calendars(ports, pipeline.broker, NOW) == 0
    calendar, declining = host_email(booked["host_id"]), host_email(ENGINEERS[0])
    fake.host_edit(calendar, booked["calendar_event_id"], response=(declining, "declined"))

    assert poll_calendars(ports, pipeline.broker, NOW) == 1
    chain.drain()

    status = TestClient(create_app(pipeline.app)).get(f"/bookings/{booked['booking_id']}", headers=AUTH).json()
    assert status["co_host_ids"] == [ENGINEERS[1]]
    [event] = fake.live_events(calendar)
    answers = {attendee["email"]: attendee["responseStatus"] for attendee in event["attendees"]}
    assert answers[declining] == "declined" and answers[host_email(ENGINEERS[1])] == "needsAction"
    assert poll_calendars(ports, pipeline.broker, NOW) == 0  # the patch reads back as no change to act on
