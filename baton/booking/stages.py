"""The booking chain's entry: a request from a queue is reserved like POST /bookings; a booking reserved at
once starts the chain's steps, and a redelivered request resumes its booking's chain where it stopped."""

from __future__ import annotations

import structlog
from dramatiq import Broker

from baton.booking.planning import BookingForbidden, BookingProblems
from baton.booking.ports import BookingPorts
from baton.booking.reserve import RequestIdTaken, SlotUnavailable, reserve
from baton.booking.resume import resume
from baton.chains import BOOKED, BOOKING_REQUEST
from kernel.errors import InputError, PermanentError
from messages.booking import BookingRequest, BookingStep

log = structlog.get_logger("baton.stage")


def start_chain(broker: Broker, booking_id: str, ports: BookingPorts) -> None:
    step = BookingStep(booking_id=booking_id, enqueued_at=ports.clock())
    broker.get_actor(BOOKED.name).send(step.model_dump(mode="json"))


def request_booking(request: BookingRequest, ports: BookingPorts, broker: Broker) -> BookingStep | None:
    """Reserves the request's slot; the first step of its new booking, or None for a request booked before
    (whose booking's chain is resumed: the delivery before may have stopped before handing on). A request
    that cannot be booked raises a PermanentError naming why (dead-lettered)."""
    try:
        reserved = reserve(request, ports, ports.bookings, ports.clock())
    except BookingProblems as exc:
        raise InputError(f"{BOOKING_REQUEST.name}: {exc}") from None
    except BookingForbidden as exc:
        raise PermanentError(f"{BOOKING_REQUEST.name}: not allowed: {exc}") from None
    except RequestIdTaken as exc:
        raise PermanentError(f"{BOOKING_REQUEST.name}: {exc}") from None
    except SlotUnavailable as exc:
        starts = ", ".join(slot.start.isoformat() for slot in exc.alternatives) or "none"
        raise PermanentError(f"{BOOKING_REQUEST.name}: {exc.reason}; nearest free: {starts}") from None
    log.info("booking_requested", booking_id=reserved.booking.id, created=reserved.created)
    if not reserved.created:
        resume(reserved.booking, ports.bookings, broker, ports.clock())
        return None
    return BookingStep(booking_id=reserved.booking.id, enqueued_at=ports.clock())
