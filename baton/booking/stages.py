"""What every booking actor does around its handler: parse, run, hand on, and undo a booking whose stage
finally failed (a permanent error, or a transient one on its last retry)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog
from dramatiq import Broker
from dramatiq.middleware import CurrentMessage
from pydantic import ValidationError

from baton import runtime
from baton.booking.chain import bookings_of, give_up
from baton.booking.planning import BookingForbidden, BookingProblems
from baton.booking.reserve import SlotUnavailable, reserve
from baton.errors import InputError, PermanentError
from baton.ports import Ports
from messages.booking import FINAL_STATUSES, BookingRequest, BookingStatus, BookingStep

log = structlog.get_logger("baton.stage")
FIRST_STAGE = "booking_calendar"


def _retries() -> int:
    message = CurrentMessage.get_current_message()
    return message.options.get("retries", 0) if message is not None else 0


def start_chain(broker: Broker, booking_id: str, ports: Ports) -> None:
    step = BookingStep(booking_id=booking_id, enqueued_at=ports.clock())
    broker.get_actor(FIRST_STAGE).send(step.model_dump(mode="json"))


def run_booking_step(stage: str, payload: Any, handler: Callable[[BookingStep, Ports], BookingStep | None],
                     next_stage: str | None) -> None:
    try:
        step = BookingStep.model_validate(payload)
    except ValidationError as exc:
        raise InputError(f"{stage}: malformed BookingStep message: {exc}") from None
    current = runtime.current()
    retries = _retries()
    started = time.perf_counter()
    try:
        result = handler(step, current.ports)
    except Exception as exc:
        final = isinstance(exc, PermanentError) or retries >= current.settings.max_retries
        log.warning("booking_stage_failed", stage=stage, booking_id=step.booking_id, attempt=retries + 1,
                    final=final, error=f"{type(exc).__name__}: {exc}")
        if final:
            give_up(step.booking_id, f"{stage}: {type(exc).__name__}: {exc}", current.ports)
        raise
    log.info("stage_done", stage=stage, booking_id=step.booking_id, attempt=retries + 1,
             duration_ms=round((time.perf_counter() - started) * 1000, 3))
    if next_stage is not None and result is not None:
        current.broker.get_actor(next_stage).send(result.model_dump(mode="json"))


def run_booking_request(payload: Any, next_stage: str) -> None:
    """A booking request from a queue: reserved like POST /bookings; a request that cannot be booked is
    dead-lettered with the reason."""
    try:
        request = BookingRequest.model_validate(payload)
    except ValidationError as exc:
        raise InputError(f"booking_request: malformed BookingRequest message: {exc}") from None
    current = runtime.current()
    ports = current.ports
    bookings = bookings_of(ports)
    try:
        reserved = reserve(request, ports, bookings, ports.clock())
    except BookingProblems as exc:
        raise InputError(f"booking_request: {exc}") from None
    except BookingForbidden as exc:
        raise PermanentError(f"booking_request: not allowed: {exc}") from None
    except SlotUnavailable as exc:
        starts = ", ".join(slot.start.isoformat() for slot in exc.alternatives) or "none"
        raise PermanentError(f"booking_request: {exc.reason}; nearest free: {starts}") from None
    if BookingStatus(reserved.booking.status) not in FINAL_STATUSES:
        current.broker.get_actor(next_stage).send(
            BookingStep(booking_id=reserved.booking.id, enqueued_at=ports.clock()).model_dump(mode="json"))
    log.info("stage_done", stage="booking_request", booking_id=reserved.booking.id, created=reserved.created)
