"""The bookings repository on SQLite and PostgreSQL: a booking reserved comes back as the typed row it was
stored as, and each change the chain records writes its own columns and nothing else."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta

import pytest

from adapters.store import Store
from kernel.ports.bookings import BookingRepository, BookingRow, Hold, NewBooking

BOOKED = datetime(2030, 1, 6, 15, 0, tzinfo=UTC)
NINE = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
LATER = BOOKED + timedelta(hours=1)
HOST, CO_HOST, OTHER = "005000000000001AAA", "005000000000002AAA", "005000000000003AAA"
NEW = NewBooking(
    id="b-1", status="reserved", booking_type="Intro", object_type="Lead", record_id="00Q000000000001AAA",
    scheduler_user_id="005000000000009AAA", host_id=HOST, pool="Handover", co_host_ids=[CO_HOST],
    starts_at=NINE, ends_at=NINE + timedelta(minutes=30), guest_email="pat@example.org",
    invitees=["sam@example.org"], platform="google_meet",
    request={"guest_name": "Pat", "record_fields": {"Name": "Pat"}, "config_version": 3}, created_at=BOOKED,
)


@pytest.fixture
def bookings(store: Store) -> BookingRepository:
    return store.bookings


@pytest.fixture
def reserved(bookings: BookingRepository) -> BookingRow:
    bookings.reserve(NEW, [Hold(host, NEW.starts_at, NEW.ends_at) for host in (HOST, CO_HOST)])
    row = bookings.get(NEW.id)
    assert row is not None
    return row


def test_a_reserved_booking_comes_back_as_stored_and_updated_when_created(reserved: BookingRow) -> None:
    assert reserved == BookingRow(**asdict(NEW), calendar_event_id=None, meet_link=None, salesforce_event_id=None,
                                  error=None, updated_at=BOOKED, calendar_host_id=None)
    assert reserved.event_host_id == HOST


def test_each_recorded_change_writes_its_own_columns(bookings: BookingRepository, reserved: BookingRow) -> None:
    bookings.record_calendar_event(NEW.id, "calendar_created", LATER, event_id="event-1", meet_link="https://meet/1",
                                   host_id=HOST)
    calendar = replace(reserved, status="calendar_created", calendar_event_id="event-1", meet_link="https://meet/1",
                       calendar_host_id=HOST, updated_at=LATER)
    assert bookings.get(NEW.id) == calendar

    bookings.record_salesforce_event(NEW.id, "event_created", "00U000000000001AAA", LATER)
    event = replace(calendar, status="event_created", salesforce_event_id="00U000000000001AAA")
    assert bookings.get(NEW.id) == event

    bookings.set_status(NEW.id, "confirmed", LATER + timedelta(minutes=1))
    confirmed = replace(event, status="confirmed", updated_at=LATER + timedelta(minutes=1))
    assert bookings.get(NEW.id) == confirmed

    bookings.record_calendar_holder(NEW.id, OTHER, LATER)
    moved = replace(confirmed, calendar_host_id=OTHER, updated_at=LATER)
    assert bookings.get(NEW.id) == moved and moved.event_host_id == OTHER

    bookings.record_recreated_calendar_event(NEW.id, HOST, None, LATER)
    assert bookings.get(NEW.id) == replace(moved, calendar_host_id=HOST, meet_link=None)
