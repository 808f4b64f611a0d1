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
from adapters.http.app import create_app
from adapters.salesforce.events import SalesforceEventWriter
from adapters.salesforce.writer import SalesforceOwnerWriter
from tests.support.booking import (
    LEAD_ID,
    NINE,
    TOKEN,
    BookingChain,
    booking_request,
    host_email,
    install_booking_ports,
)
from tests.support.fake_calendar import FakeGoogleCalendar, fake_google_calendar
from tests.support.fake_salesforce import FakeOrg, fake_salesforce
from tests.unit.conftest import Pipeline

ADMIN = "admin@example.com"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def services(tmp_path: Path) -> Iterator[tuple[FakeGoogleCalendar, FakeOrg, Salesforce]]:
    with fake_google_calendar(tmp_path) as calendar, fake_salesforce() as (org, client):
        yield calendar, org, client


def real_clients(pipeline: Pipeline, fake: FakeGoogleCalendar, client: Salesforce) -> None:
    assert fake.key_file is not None
    calendar = GoogleCalendar(load_service_account(fake.key_file), ADMIN, fake.api_url)
    install_booking_ports(pipeline.store, calendar, SalesforceEventWriter(salesforce=client))
    pipeline.use_writer(SalesforceOwnerWriter(salesforce=client))


def test_a_booking_posted_is_confirmed_with_a_meet_event_a_salesforce_event_and_the_new_owner(
    pipeline: Pipeline, services: tuple[FakeGoogleCalendar, FakeOrg, Salesforce]
) -> None:
    fake, org, client = services
    real_clients(pipeline, fake, client)
    chain = BookingChain(pipeline.broker, pipeline.store, None, None)  # type: ignore[arg-type]

    answer = TestClient(create_app()).post("/bookings", json=booking_request(), headers=AUTH)
    assert answer.status_code == 202, answer.text
    booking_id, host = answer.json()["booking_id"], answer.json()["host_id"]
    chain.drain()
    pipeline.flush()

    status = TestClient(create_app()).get(f"/bookings/{booking_id}", headers=AUTH).json()
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
    real_clients(pipeline, fake, client)
    busy: dict[str, Any] = {host_email(host): [(NINE, NINE + timedelta(hours=1))]
                            for host in ("005000000000001AAA", "005000000000002AAA")}
    fake.busy.update(busy)

    answer = TestClient(create_app()).post("/bookings", json=booking_request(), headers=AUTH)

    assert answer.status_code == 202 and answer.json()["host_id"] == "005000000000003AAA"
    assert len(fake.freebusy_requests) == 1
    BookingChain(pipeline.broker, pipeline.store, None, None).drain()  # type: ignore[arg-type]
