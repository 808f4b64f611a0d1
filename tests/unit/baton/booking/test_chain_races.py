"""The booking chain's steps against a cancel that commits while they run (in process, with the recording
calendar and Salesforce Event fakes; the integration window test drives the same race through the API with the
real clients on PostgreSQL). Each step makes its effect, then records its transition as a compare-and-set: the
cancel that came first wins, and the step takes back what it made. A failure that loses to a cancel leaves the
booking cancelled."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.calendar import RecordingCalendar, calendar_event_id
from adapters.salesforce.events import RecordingSalesforceEvents
from adapters.store.bookings import SqlBookings
from adapters.store.tables import reservations
from baton.booking.chain import (
    CANCELLED_PREFIX,
    assign_owner,
    create_calendar_event,
    give_up,
    owner_logs,
    upsert_salesforce_event,
)
from baton.booking.lifecycle import cancel
from baton.booking.ports import BookingPorts
from baton.booking.reserve import reserve
from kernel.ports.bookings import BookingRow
from messages.booking import BookingRequest, BookingStatus, BookingStep
from tests.support.booking import NOW, booking_request, host_email, install_booking_ports
from tests.support.pipeline import Pipeline

Step = Callable[[BookingStep, BookingPorts], BookingStep | None]
STEPS: list[tuple[Step, BookingStatus]] = [  # each step, and the status in which it finds its booking
    (create_calendar_event, BookingStatus.RESERVED), (upsert_salesforce_event, BookingStatus.CALENDAR_CREATED),
    (assign_owner, BookingStatus.EVENT_CREATED)]


class CancelledBeforeItsWrite(SqlBookings):
    """The bookings as a step sees them when the API cancels the booking (through its own repository) after the
    step read it and made its effect, just before the step records its transition."""

    def __init__(self, engine: Engine, ports: BookingPorts):
        super().__init__(engine)
        self.api = dataclasses.replace(ports, bookings=SqlBookings(engine))
        self.cancelled = False

    def _cancel_first(self, booking: BookingRow) -> None:
        if not self.cancelled:
            self.cancelled = True
            cancel(booking.id, "prospect asked", self.api)

    def record_calendar_event(self, booking: BookingRow, *args: Any, **kwargs: Any) -> bool:
        self._cancel_first(booking)
        return super().record_calendar_event(booking, *args, **kwargs)

    def record_salesforce_event(self, booking: BookingRow, *args: Any, **kwargs: Any) -> bool:
        self._cancel_first(booking)
        return super().record_salesforce_event(booking, *args, **kwargs)

    def transition(self, booking: BookingRow, *args: Any, **kwargs: Any) -> bool:
        self._cancel_first(booking)
        return super().transition(booking, *args, **kwargs)

    def release(self, booking: BookingRow, *args: Any, **kwargs: Any) -> bool:
        self._cancel_first(booking)
        return super().release(booking, *args, **kwargs)


@pytest.fixture
def ports(pipeline: Pipeline) -> BookingPorts:
    install_booking_ports(pipeline.app, pipeline.store, RecordingCalendar(), RecordingSalesforceEvents())
    return BookingPorts.of(pipeline.app.ports)


def booked_to(status: BookingStatus, ports: BookingPorts) -> str:
    """A booking reserved and taken by the chain's steps (run here, one by one) to ``status``."""
    request = BookingRequest.model_validate(booking_request())
    booking_id = reserve(request, ports, ports.bookings, NOW).booking.id
    for step, before in STEPS:
        if before == status:
            break
        step(BookingStep(booking_id=booking_id, enqueued_at=NOW), ports)
    return booking_id


def reserved_time(ports: BookingPorts, booking_id: str) -> int:
    with ports.bookings.engine.connect() as connection:  # type: ignore[attr-defined]
        return connection.execute(sa.select(sa.func.count()).select_from(reservations)
                                  .where(reservations.c.booking_id == booking_id)).scalar_one()


@pytest.mark.parametrize(("step", "status"), STEPS, ids=["calendar", "event", "owner"])
def test_a_step_whose_booking_was_cancelled_meanwhile_loses_its_transition_and_takes_back_what_it_made(
    step: Step, status: BookingStatus, ports: BookingPorts
) -> None:
    booking_id = booked_to(status, ports)
    racing = dataclasses.replace(ports, bookings=CancelledBeforeItsWrite(ports.bookings.engine, ports))  # type: ignore[attr-defined]

    handed_on = step(BookingStep(booking_id=booking_id, enqueued_at=NOW), racing)

    booking = ports.bookings.get(booking_id)
    assert booking is not None and handed_on is None
    assert booking.status == BookingStatus.CANCELLED and reserved_time(ports, booking_id) == 0
    calendar, events = ports.calendar, ports.salesforce_events
    assert isinstance(calendar, RecordingCalendar) and isinstance(events, RecordingSalesforceEvents)
    if step is create_calendar_event:
        assert booking.calendar_event_id is None  # never recorded: the cancel came first
        assert calendar.cancelled == [(host_email(booking.host_id), calendar_event_id(booking_id))]
        assert calendar.events == {}
    if step is upsert_salesforce_event:
        assert booking.salesforce_event_id is None
        marked = events.events[booking_id]
        assert marked["Subject"].startswith(CANCELLED_PREFIX) and marked["ShowAs"] == "Free"
    if step is assign_owner:
        routing_ids = [entry.routing_id for entry in owner_logs(booking, ports)]
        assert set(ports.outbox.statuses(routing_ids).values()) == {"withdrawn"}


def test_a_step_run_again_on_a_booking_it_already_moved_on_hands_on_without_doing_it_twice(
    ports: BookingPorts,
) -> None:
    booking_id = booked_to(BookingStatus.CALENDAR_CREATED, ports)
    again = create_calendar_event(BookingStep(booking_id=booking_id, enqueued_at=NOW), ports)
    assert again is not None and again.booking_id == booking_id  # its next message may not have been sent
    assert len(ports.calendar.created) == 1  # type: ignore[union-attr]
    upsert_salesforce_event(again, ports)
    assert create_calendar_event(again, ports) is None  # past it: the later step already handed on


def test_a_failure_that_loses_to_a_cancel_leaves_the_booking_cancelled(ports: BookingPorts) -> None:
    booking_id = booked_to(BookingStatus.CALENDAR_CREATED, ports)
    racing = dataclasses.replace(ports, bookings=CancelledBeforeItsWrite(ports.bookings.engine, ports))  # type: ignore[attr-defined]

    give_up(booking_id, "booking_event: PermanentError: refused", racing)

    booking = ports.bookings.get(booking_id)
    assert booking is not None and booking.status == BookingStatus.CANCELLED
    assert booking.error == "cancelled: prospect asked"
