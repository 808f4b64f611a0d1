"""Book as a scheduler asked: reserve the slot at once, then start the chain (the booking API and the
handoff page both come here); the same request again resumes its booking's chain if it stopped."""

from __future__ import annotations

import structlog

from baton import runtime
from baton.booking.chain import give_up
from baton.booking.ports import BookingPorts
from baton.booking.reserve import Reserved, reserve
from baton.booking.resume import resume
from baton.booking.stages import start_chain
from messages.booking import BookingRequest

log = structlog.get_logger(__name__)


class NotEnqueued(Exception):
    """The slot was reserved but the chain could not be enqueued: the reservation was released."""


def submit_booking(state: runtime.Runtime, request: BookingRequest) -> Reserved:
    """Reserved (new or the same scheduler's earlier booking of this ``request_id``, whose chain is resumed: its
    process may have died before the chain was enqueued). Raises BookingProblems (422), SlotUnavailable (409
    with alternatives), RequestIdTaken (409: another scheduler's ``request_id``) or NotEnqueued (503: retry)."""
    ports = BookingPorts.of(state.ports)
    reserved = reserve(request, ports, ports.bookings, ports.clock())
    booking_id = reserved.booking.id
    if reserved.created:
        try:
            start_chain(state.broker, booking_id, ports)
        except Exception as exc:
            log.error("booking_enqueue_failed", booking_id=booking_id, error=str(exc))
            give_up(booking_id, f"could not enqueue the booking chain: {exc}", ports)
            raise NotEnqueued(str(exc)) from exc
        return reserved
    try:
        resume(reserved.booking, ports.bookings, state.broker, ports.clock())
    except Exception as exc:  # noqa: BLE001 (the booking stays reserved: the scheduler resumes it after its grace)
        log.warning("booking_resume_failed", booking_id=booking_id, error=str(exc))
    return reserved
