"""What the booking API answers: a booking's view, slots, the 422 naming the fields, the 409 with the nearest
free alternatives; and the thread that runs a booking step (its errors become a 422 or a 503)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from baton.booking.reserve import SlotUnavailable
from kernel.errors import PermanentError, TransientError
from kernel.ports.bookings import BookingRow
from routing.booking.slots import Slot

SAME_USER = 15  # an 18-character Salesforce id is the 15-character one plus a checksum


def same_user(a: str, b: str) -> bool:
    return a[:SAME_USER] == b[:SAME_USER]


def slot_view(slot: Slot) -> dict[str, Any]:
    return {"start": slot.start.isoformat(), "end": slot.end.isoformat(), "host_ids": list(slot.host_ids)}


def booking_view(booking: BookingRow) -> dict[str, Any]:
    return {
        "booking_id": booking.id, "status": booking.status, "booking_type": booking.booking_type,
        "object_type": booking.object_type, "record_id": booking.record_id, "host_id": booking.host_id,
        "co_host_ids": booking.co_host_ids, "pool": booking.pool, "start": booking.starts_at.isoformat(),
        "end": booking.ends_at.isoformat(), "guest_email": booking.guest_email, "invitees": booking.invitees,
        "meeting_platform": booking.platform, "calendar_event_id": booking.calendar_event_id,
        "meet_link": booking.meet_link, "salesforce_event_id": booking.salesforce_event_id,
        "error": booking.error, "created_at": booking.created_at.isoformat(),
        "updated_at": booking.updated_at.isoformat(),
    }


def detail(status: int, text: str) -> JSONResponse:
    return JSONResponse({"detail": text}, status_code=status)


def unprocessable(problems: list[tuple[str, str]], where: str = "body") -> JSONResponse:
    return JSONResponse({"detail": [{"loc": [where, *field.split(".")], "msg": message, "type": "booking"}
                                    for field, message in problems]}, status_code=422)


def taken(exc: SlotUnavailable) -> JSONResponse:
    return JSONResponse({"detail": exc.reason, "start": exc.start.isoformat(),
                         "alternatives": [slot_view(slot) for slot in exc.alternatives]}, status_code=409)


async def in_thread(function: Callable[..., JSONResponse], *args: Any) -> JSONResponse:
    try:
        return await run_in_threadpool(function, *args)
    except PermanentError as exc:
        return detail(422, str(exc))
    except TransientError as exc:
        return detail(503, f"try again: {exc}")
