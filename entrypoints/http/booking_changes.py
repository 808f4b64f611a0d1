"""Changing a booking through the API (scope ``bookings:write``): cancel, no-show, reschedule, reassign; each
answers 202 with the booking once the calendar update is queued, 404 for a booking the token may not see,
409 once it ended or when the asked time is taken (with alternatives).
(No postponed annotations: FastAPI reads the endpoints' signatures.)"""

from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from baton.booking import lifecycle
from baton.booking.planning import BookingProblems
from baton.booking.ports import BookingPorts
from baton.booking.reserve import SlotUnavailable
from baton.runtime import Runtime
from entrypoints.http import booking_answers as answers
from entrypoints.http.body import invalid, read_json
from entrypoints.http.bookings import Writer
from entrypoints.http.dependencies import RuntimeDep
from kernel.ports.bookings import BookingRow
from messages.booking import CancelBooking, ReassignBooking, RescheduleBooking

log = structlog.get_logger(__name__)
router = APIRouter(tags=["booking"])
Change = CancelBooking | RescheduleBooking | ReassignBooking | None
BODIES: dict[str, type[CancelBooking | RescheduleBooking | ReassignBooking]] = {
    "cancel": CancelBooking, "reschedule": RescheduleBooking, "reassign": ReassignBooking}


async def _payload(request: Request, limit: int) -> Any:
    if request.headers.get("content-length", "0") == "0" and "transfer-encoding" not in request.headers:
        return {}
    return await read_json(request, limit)


@router.post("/bookings/{booking_id}/cancel", status_code=202)
async def cancel_booking(caller: Writer, booking_id: str, request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Cancels: the reserved time is freed, the calendar event cancelled, the Salesforce Event updated."""
    payload = await _payload(request, runtime.settings.max_request_bytes)
    return await answers.in_thread(_change, runtime, caller.scheduler_user_id, booking_id, payload, "cancel")


@router.post("/bookings/{booking_id}/no-show", status_code=202)
async def no_show(caller: Writer, booking_id: str, runtime: RuntimeDep) -> JSONResponse:
    """The guest did not come (counted in fairness unless the pool excludes no-shows)."""
    return await answers.in_thread(_change, runtime, caller.scheduler_user_id, booking_id, None, "no_show")


@router.post("/bookings/{booking_id}/reschedule", status_code=202)
async def reschedule(caller: Writer, booking_id: str, request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Moves the meeting: the same host when free (pool option), else routed again; 409 with alternatives."""
    payload = await _payload(request, runtime.settings.max_request_bytes)
    return await answers.in_thread(_change, runtime, caller.scheduler_user_id, booking_id, payload, "reschedule")


@router.post("/bookings/{booking_id}/reassign", status_code=202)
async def reassign(caller: Writer, booking_id: str, request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Another pool member hosts at the same time; the previous host is credited back."""
    payload = await _payload(request, runtime.settings.max_request_bytes)
    return await answers.in_thread(_change, runtime, caller.scheduler_user_id, booking_id, payload, "reassign")


def _change(runtime: Runtime, scheduler_user_id: str | None, booking_id: str, payload: Any,
            action: str) -> JSONResponse:
    try:
        body = BODIES[action].model_validate(payload) if action in BODIES else None
    except ValidationError as exc:
        return invalid(exc)
    ports = BookingPorts.of(runtime.ports)
    if scheduler_user_id is not None:  # a scheduler's token changes only that scheduler's bookings
        found = ports.bookings.get(booking_id)
        if found is not None and not answers.same_user(found.scheduler_user_id, scheduler_user_id):
            return answers.detail(404, f"no booking {booking_id}")
    try:
        booking = _apply(body, booking_id, ports)
    except lifecycle.BookingNotFound as exc:
        return answers.detail(404, str(exc))
    except lifecycle.BookingEnded as exc:
        return answers.detail(409, f"{exc}: it cannot change any more")
    except BookingProblems as exc:
        return answers.unprocessable(exc.problems)
    except SlotUnavailable as exc:
        return answers.taken(exc)
    return _changed(runtime, booking)


def _apply(body: Change, booking_id: str, ports: BookingPorts) -> BookingRow:
    if isinstance(body, CancelBooking):
        return lifecycle.cancel(booking_id, body.reason or "cancelled through the API", ports)
    if isinstance(body, RescheduleBooking):
        return lifecycle.move(booking_id, ports, start=body.start, reason=body.reason)
    if isinstance(body, ReassignBooking):
        return lifecycle.move(booking_id, ports, exclude_host=body.host_id is None, host_id=body.host_id,
                              reason=body.reason)
    return lifecycle.mark_no_show(booking_id, ports)


def _changed(runtime: Runtime, booking: BookingRow) -> JSONResponse:
    try:
        lifecycle.send_sync(runtime.broker, booking.id, BookingPorts.of(runtime.ports))
    except Exception as exc:  # noqa: BLE001 (the row changed; asking again re-sends the sync)
        log.error("booking_sync_enqueue_failed", booking_id=booking.id, error=str(exc))
        return answers.detail(503, "changed, but the calendar update could not be enqueued; "
                           "send the same request again")
    return JSONResponse(answers.booking_view(booking), status_code=202)
