"""A booking whose chain stopped between two steps (its process died after the reservation committed and
before the first step was enqueued, or between a step's transition and the next message) is resumed: its next
step is sent again. Steps are idempotent (deterministic ids, upserts, compare-and-set transitions), so a step
sent twice does its work once. The scheduler resumes bookings unchanged for a grace period; a resubmitted
request (the same ``request_id``) resumes its booking at once."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from dramatiq import Broker

from baton.chains import BOOKING_CALENDAR, BOOKING_EVENT, BOOKING_OWNER, Stage
from kernel.ports.bookings import BookingRepository, BookingRow
from messages.booking import BookingStatus, BookingStep
from routing.lifecycles.booking import chain_step_after

log = structlog.get_logger(__name__)
DEFAULT_GRACE = timedelta(minutes=5)
ROUND_LIMIT = 100
STEP_TO: dict[BookingStatus, Stage] = {  # the stage of the chain that moves a booking to each status
    BookingStatus.CALENDAR_CREATED: BOOKING_CALENDAR,
    BookingStatus.EVENT_CREATED: BOOKING_EVENT,
    BookingStatus.CONFIRMED: BOOKING_OWNER,
}


def resume(booking: BookingRow, bookings: BookingRepository, broker: Broker, now: datetime) -> bool:
    """Sends the booking's next step again, when a step is left and the claim on its restart wins (its
    ``updated_at`` moves to ``now`` while it still has the status and version read: of two resumers one sends)."""
    to = chain_step_after(booking.status)
    if to is None or not bookings.resume(booking, now):
        return False
    stage = STEP_TO[to]
    broker.get_actor(stage.name).send(BookingStep(booking_id=booking.id, enqueued_at=now).model_dump(mode="json"))
    log.info("booking_resumed", booking_id=booking.id, status=booking.status, stage=stage.name,
             stopped_since=booking.updated_at.isoformat())
    return True


def resume_stopped(bookings: BookingRepository, broker: Broker, now: datetime, grace: timedelta = DEFAULT_GRACE,
                   limit: int = ROUND_LIMIT) -> int:
    """Resumes the bookings whose chain has a step left and did not move for ``grace``; returns how many."""
    return sum(resume(booking, bookings, broker, now) for booking in bookings.stopped(now - grace, limit))
