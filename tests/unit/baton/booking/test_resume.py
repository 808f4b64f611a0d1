"""A booking whose chain stopped between two steps (its process died after the reservation committed, or after a
step's transition, before the next message went out) is resumed: by the scheduler's round once it stood still
for the grace period, and at once by the same request submitted again (API or queue). On the StubBroker with the
recording calendar and Salesforce Event fakes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from adapters.calendar import RecordingCalendar
from adapters.salesforce.events import RecordingSalesforceEvents
from baton.booking.chain import create_calendar_event
from baton.booking.ports import BookingPorts
from baton.booking.reserve import reserve
from baton.booking.resume import DEFAULT_GRACE, resume_stopped
from entrypoints.http.app import create_app
from messages.booking import BookingRequest, BookingStep, booking_id_for
from tests.support.booking import AUTH, NOW, BookingChain, booking_request, install_booking_ports
from tests.support.pipeline import Pipeline

REQUEST_ID = "stopped-chain"


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def chain(pipeline: Pipeline, clock: Clock) -> Iterator[BookingChain]:
    calendar, events = RecordingCalendar(), RecordingSalesforceEvents()
    install_booking_ports(pipeline.app, pipeline.store, calendar, events, clock=clock)
    chain = BookingChain(pipeline.app, pipeline.broker, pipeline.store, calendar, events)
    yield chain
    chain.drain()


def stopped_after_reserving(chain: BookingChain) -> str:
    """A booking reserved whose chain was never enqueued (its process died in between)."""
    ports = BookingPorts.of(chain.app.ports)
    request = BookingRequest.model_validate(booking_request(request_id=REQUEST_ID))
    return reserve(request, ports, chain.bookings, NOW).booking.id


def status(chain: BookingChain, booking_id: str) -> str:
    chain.drain()
    booking = chain.bookings.get(booking_id)
    assert booking is not None
    return booking.status


def test_a_scheduler_round_resumes_a_stopped_booking_once_it_stood_still_for_the_grace_period(
    chain: BookingChain, clock: Clock
) -> None:
    booking_id = stopped_after_reserving(chain)

    clock.now = NOW + DEFAULT_GRACE - timedelta(seconds=1)
    assert resume_stopped(chain.bookings, chain.broker, clock.now) == 0
    assert status(chain, booking_id) == "reserved"  # it may still be on its way: not yet
    clock.now = NOW + DEFAULT_GRACE
    assert resume_stopped(chain.bookings, chain.broker, clock.now) == 1
    assert resume_stopped(chain.bookings, chain.broker, clock.now) == 0  # claimed: not sent twice
    assert status(chain, booking_id) == "confirmed"
    assert len(chain.calendar.created) == 1 and len(chain.events.upserts) == 1


def test_a_booking_stopped_after_a_step_resumes_with_the_next_step(chain: BookingChain, clock: Clock) -> None:
    booking_id = stopped_after_reserving(chain)
    create_calendar_event(BookingStep(booking_id=booking_id, enqueued_at=NOW), BookingPorts.of(chain.app.ports))
    assert status(chain, booking_id) == "calendar_created"  # the process died before handing on

    clock.now = NOW + timedelta(hours=1)
    assert resume_stopped(chain.bookings, chain.broker, clock.now) == 1
    assert status(chain, booking_id) == "confirmed"
    assert len(chain.calendar.created) == 1  # the calendar step did not run again


def test_the_same_request_submitted_again_resumes_its_stopped_booking_at_once(chain: BookingChain) -> None:
    booking_id = stopped_after_reserving(chain)

    again = TestClient(create_app(chain.app)).post("/bookings", json=booking_request(request_id=REQUEST_ID),
                                                   headers=AUTH)

    assert again.status_code == 202 and again.json()["booking_id"] == booking_id == booking_id_for(REQUEST_ID)
    assert status(chain, booking_id) == "confirmed"
    assert len(chain.calendar.created) == 1


def test_a_booking_request_delivered_again_resumes_its_stopped_booking(chain: BookingChain) -> None:
    booking_id = stopped_after_reserving(chain)

    chain.send_request(booking_request(request_id=REQUEST_ID))

    assert status(chain, booking_id) == "confirmed"
    assert len(chain.calendar.created) == 1 and len(chain.events.upserts) == 1
