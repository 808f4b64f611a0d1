"""The bookings repository on SQLite and PostgreSQL: a booking reserved comes back as the typed row it was
stored as, each change the chain records writes its own columns and nothing else, and every transition is a
compare-and-set on the status and version it was read with (a lost race writes nothing and says so)."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from adapters.store import Store
from adapters.store.tables import reservations
from kernel.ports.bookings import BookingRepository, BookingRow, Hold, NewBooking
from routing.lifecycles import IllegalTransition

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
    assert bookings.record_calendar_event(reserved, "calendar_created", LATER, event_id="event-1",
                                          meet_link="https://meet/1", host_id=HOST)
    calendar = replace(reserved, status="calendar_created", calendar_event_id="event-1", meet_link="https://meet/1",
                       calendar_host_id=HOST, updated_at=LATER, version=2)
    assert bookings.get(NEW.id) == calendar

    assert bookings.record_salesforce_event(calendar, "event_created", "00U000000000001AAA", LATER)
    event = replace(calendar, status="event_created", salesforce_event_id="00U000000000001AAA", version=3)
    assert bookings.get(NEW.id) == event

    assert bookings.transition(event, "confirmed", LATER + timedelta(minutes=1))
    confirmed = replace(event, status="confirmed", updated_at=LATER + timedelta(minutes=1), version=4)
    assert bookings.get(NEW.id) == confirmed

    bookings.record_calendar_holder(NEW.id, OTHER, LATER)
    moved = replace(confirmed, calendar_host_id=OTHER, updated_at=LATER)
    assert bookings.get(NEW.id) == moved and moved.event_host_id == OTHER

    bookings.record_recreated_calendar_event(NEW.id, HOST, None, LATER)
    assert bookings.get(NEW.id) == replace(moved, calendar_host_id=HOST, meet_link=None)


def held(store: Store, booking_id: str) -> int:
    with store.engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(reservations)
                                  .where(reservations.c.booking_id == booking_id)).scalar_one()


def test_a_step_that_read_the_booking_before_a_cancel_loses_its_transition_and_writes_nothing(
    store: Store, bookings: BookingRepository, reserved: BookingRow
) -> None:
    assert bookings.release(reserved, "cancelled", LATER, "cancelled: prospect asked")
    cancelled = bookings.get(NEW.id)
    assert cancelled == replace(reserved, status="cancelled", error="cancelled: prospect asked", updated_at=LATER,
                                version=2)
    assert held(store, NEW.id) == 0

    read_before = reserved  # what the calendar step read before the cancel
    assert not bookings.record_calendar_event(read_before, "calendar_created", LATER, event_id="event-1",
                                              meet_link=None, host_id=HOST)
    assert not bookings.transition(read_before, "no_show", LATER)
    assert not bookings.release(read_before, "failed", LATER, "boom")  # the failure lost to the cancel too
    assert bookings.get(NEW.id) == cancelled


def test_of_two_steps_that_read_the_same_version_one_records_its_transition(
    bookings: BookingRepository, reserved: BookingRow
) -> None:
    first = bookings.record_calendar_event(reserved, "calendar_created", LATER, event_id="event-1", meet_link=None,
                                           host_id=HOST)
    second = bookings.record_calendar_event(reserved, "calendar_created", LATER + timedelta(seconds=1),
                                            event_id="event-1", meet_link=None, host_id=HOST)
    assert (first, second) == (True, False)
    assert bookings.get(NEW.id) == replace(reserved, status="calendar_created", calendar_event_id="event-1",
                                           calendar_host_id=HOST, updated_at=LATER, version=2)


def test_a_failure_that_lost_to_a_step_frees_nothing(store: Store, bookings: BookingRepository,
                                                     reserved: BookingRow) -> None:
    assert bookings.transition(reserved, "calendar_created", LATER)
    assert not bookings.release(reserved, "failed", LATER, "boom")
    assert bookings.get(NEW.id).status == "calendar_created" and held(store, NEW.id) == 2  # type: ignore[union-attr]


def test_a_transition_the_table_does_not_allow_is_refused_before_anything_is_written(
    bookings: BookingRepository, reserved: BookingRow
) -> None:
    with pytest.raises(IllegalTransition, match="booking: no transition from 'reserved' to 'confirmed'"):
        bookings.transition(reserved, "confirmed", LATER)
    assert bookings.get(NEW.id) == reserved


def test_resuming_a_stopped_booking_claims_it_once_and_it_counts_as_stopped_again_after_that(
    bookings: BookingRepository, reserved: BookingRow
) -> None:
    second = timedelta(seconds=1)
    assert bookings.stopped(BOOKED - second) == [] and bookings.stopped(BOOKED) == [reserved]
    assert bookings.resume(reserved, LATER)
    assert not bookings.resume(replace(reserved, version=0), LATER)  # another round read an older version
    assert bookings.stopped(LATER - second) == [] and bookings.stopped(LATER) == [replace(reserved, updated_at=LATER)]
    assert bookings.transition(reserved, "calendar_created", LATER)
    assert not bookings.resume(reserved, LATER)  # a step moved it on since it was read
    for status in ("event_created", "confirmed"):
        current = bookings.get(NEW.id)
        assert current is not None and bookings.transition(current, status, LATER)
    assert bookings.stopped(LATER + timedelta(days=1)) == []  # confirmed: no step left to resume
