"""The booking chain's entry: a request from a queue is reserved like POST /bookings; a booking reserved at
once starts the chain's steps."""

from __future__ import annotations

import structlog
from dramatiq import Broker

from baton.booking.planning import BookingForbidden, BookingProblems
from baton.booking.ports import BookingPorts
from baton.booking.reserve import SlotUnavailable, reserve
from baton.chains import BOOKED, BOOKING_REQUEST
from kernel.errors import InputError, PermanentError
from messages.booking import FINAL_STATUSES, BookingRequest, BookingStatus, BookingStep

log = structlog.get_logger("baton.stage")


def start_chain(broker: Broker, booking_id: str, ports: BookingPorts) -> None:
    step = BookingStep(booking_id=booking_id, enqueued_at=ports.clock())
    broker.get_actor(BOOKED.name).send(step.model_dump(mode="json"))


def request_booking(request: BookingRequest, ports: BookingPorts) -> BookingStep | None:
    """Reserves the request's slot; the first step of its booking, or None when that booking already ended.
    A request that cannot be booked raises a PermanentError naming why (dead-lettered)."""
    try:
        reserved = reserve(request, ports, ports.bookings, ports.clock())
    except BookingProblems as exc:
        raise InputError(f"{BOOKING_REQUEST.name}: {exc}") from None
    except BookingForbidden as exc:
        raise PermanentError(f"{BOOKING_REQUEST.name}: not allowed: {exc}") from None
    except SlotUnavailable as exc:
        starts = ", ".join(slot.start.isoformat() for slot in exc.alternatives) or "none"
        raise PermanentError(f"{BOOKING_REQUEST.name}: {exc.reason}; nearest free: {starts}") from None
    log.info("booking_requested", booking_id=reserved.booking.id, created=reserved.created)
    if BookingStatus(reserved.booking.status) in FINAL_STATUSES:
        return None
    return BookingStep(booking_id=reserved.booking.id, enqueued_at=ports.clock())
