"""The booking API: availability, reserve a slot (202 or 409 with alternatives), status, meet now, relayed
booking events.

Bearer tokens with ``bookings:read`` (availability, status) or ``bookings:write`` (book), rate-limited per
token. A token made for one scheduler (``baton tokens create --scheduler-user ID``) books only as that
scheduler and sees only that scheduler's bookings; what any scheduler may book is the org config's
``booking.schedulers`` (a 403 names why not). Changing a booking: ``booking_changes``.
(No postponed annotations: FastAPI reads the endpoints' signatures.)
"""

from datetime import datetime, timedelta
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, ValidationError

from adapters.salesforce.booking_requests import booking_request_from_event
from baton.booking.planning import (
    BookingForbidden,
    BookingPlan,
    BookingProblems,
    check_scheduler,
    plan_booking,
    plan_slots,
    skipped_hosts,
)
from baton.booking.reserve import RequestIdTaken, SlotUnavailable
from baton.booking.submit import NotEnqueued, submit_booking
from baton.chains import BOOKING_REQUEST
from baton.ports import Ports
from baton.runtime import Runtime
from entrypoints.http.auth import BOOKINGS_READ, BOOKINGS_WRITE, Caller, requires
from entrypoints.http.body import (
    JSON_CONTENT_TYPE,
    inline_schema,
    invalid,
    json_objects,
    openapi_body,
    read_json,
)
from entrypoints.http.booking_answers import (
    booking_view,
    detail,
    in_thread,
    same_user,
    slot_view,
    taken,
    unprocessable,
)
from entrypoints.http.dependencies import PortsDep, RuntimeDep
from kernel.errors import InputError
from kernel.ports.bookings import BookingRepository
from messages.booking import BookingRequest
from routing.booking.config import HostKind, HostOption
from routing.booking.pools import free_times_by_host
from routing.booking.slots import Interval, Slot

log = structlog.get_logger(__name__)
router = APIRouter(tags=["booking"])
Reader = Annotated[Caller, Depends(requires(BOOKINGS_READ, rate_limited=True))]
Writer = Annotated[Caller, Depends(requires(BOOKINGS_WRITE, rate_limited=True))]
MAX_RANGE = timedelta(days=31)
MAX_EVENTS = 100


BOOKING_BODY = openapi_body(JSON_CONTENT_TYPE, inline_schema(BookingRequest.model_json_schema()))
EVENTS_BODY = openapi_body(JSON_CONTENT_TYPE, json_objects(MAX_EVENTS))


def as_caller(caller: Caller, payload: Any) -> Any:
    """A scheduler's token books as that scheduler: the body's ``scheduler_user_id`` defaults to it and
    may not name anyone else."""
    if caller.scheduler_user_id is None or not isinstance(payload, dict):
        return payload
    claimed = payload.get("scheduler_user_id")
    if claimed is None:
        return {**payload, "scheduler_user_id": caller.scheduler_user_id}
    if not isinstance(claimed, str) or not same_user(claimed, caller.scheduler_user_id):
        raise HTTPException(403, f"token {caller.token_id} books as scheduler {caller.scheduler_user_id}, "
                                 f"not {claimed}")
    return payload


@router.get("/availability")
def availability(
    caller: Reader,
    ports: PortsDep,
    object_type: str,
    record_id: str,
    start: AwareDatetime,
    end: AwareDatetime,
    meeting_type: str | None = None,
    host_kind: HostKind | None = None,
    host_user_id: str | None = None,
    host_team: str | None = None,
    co_hosts: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies defaults)
    extra_pools: Annotated[list[str], Query()] = [],  # noqa: B006
    show_all: bool = False,
) -> Any:
    """Slots in ``[start, end)`` with the hosts free at each (calendar, reservations, absences merged)."""
    if end <= start or end - start > MAX_RANGE:
        return unprocessable([("end", f"must be after start and at most {MAX_RANGE.days} days later")], "query")
    now = ports.clock()
    bookings = ports.store.bookings
    try:
        host = _host_option(host_kind, host_user_id, host_team)
        plan = _plan(caller, ports, bookings, now, object_type=object_type, record_id=record_id, host=host,
                     meeting_type=meeting_type, co_hosts=co_hosts, extra_pools=extra_pools)
    except BookingProblems as exc:
        return unprocessable(exc.problems, "query")
    except BookingForbidden as exc:
        raise HTTPException(403, str(exc)) from None
    window = Interval(start, end)
    slots = plan_slots(plan, window, now, ports.calendar, bookings)
    answer = _availability_answer(plan, slots)
    skipped = skipped_hosts(plan, window, now, bookings)
    if skipped:
        answer["skipped"] = skipped
    if show_all or plan.object_settings.show_all_availability:
        answer["by_host"] = {host_id: [slot_view(slot)["start"] for slot in host_slots]
                             for host_id, host_slots in free_times_by_host(slots).items()}
    return answer


def _host_option(kind: HostKind | None, user_id: str | None, team: str | None) -> HostOption | None:
    try:
        return HostOption(kind=kind, user_id=user_id, team=team) if kind else None
    except ValidationError as exc:
        raise BookingProblems([("host_kind", error["msg"]) for error in exc.errors()]) from None


def _plan(caller: Caller, ports: Ports, bookings: BookingRepository, now: datetime, *, object_type: str, record_id: str,
          host: HostOption | None, meeting_type: str | None, co_hosts: list[str],
          extra_pools: list[str]) -> BookingPlan:
    """The plan of the asked booking; a scheduler's token sees only what that scheduler may book."""
    version, config = ports.configs.current()
    plan = plan_booking(version, config, ports.store.decisions, ports.store.reference_sync, bookings,
                        object_type=object_type, record_id=record_id, record_fields={}, host=host,
                        meeting_type=meeting_type, co_hosts=co_hosts, now=now, extra_pools=extra_pools)
    if caller.scheduler_user_id is not None:
        check_scheduler(config, plan, caller.scheduler_user_id, object_type)
    return plan


def _availability_answer(plan: BookingPlan, slots: list[Slot]) -> dict[str, Any]:
    return {
        "booking_type": plan.booking_type.name, "mode": plan.hosts.mode,
        "host": plan.option.model_dump(exclude_none=True), "host_locked": plan.suggestion.host_locked,
        "meeting_type_locked": plan.suggestion.meeting_type_locked,
        "co_host_ids": list(plan.hosts.co_hosts),
        "hosts": {host_id: {"name": info.name, "time_zone": info.time_zone}
                  for host_id, info in plan.directory.items()},
        "slots": [slot_view(slot) for slot in slots],
    }


@router.post("/bookings", status_code=202, openapi_extra=BOOKING_BODY)
async def create_booking(caller: Writer, request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Reserves the slot at once (202 with the booking id), or 409 with the nearest free alternatives.
    The same ``request_id`` again from the same scheduler answers its booking; another scheduler's is a 409."""
    payload = as_caller(caller, await read_json(request, runtime.settings.max_request_bytes))
    return await in_thread(_book, runtime, payload, False)


@router.post("/bookings/meet-now", status_code=202, openapi_extra=BOOKING_BODY)
async def meet_now(caller: Writer, request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Instant handoff: a host free for the whole meeting starting now (no ``start`` in the body)."""
    payload = as_caller(caller, await read_json(request, runtime.settings.max_request_bytes))
    return await in_thread(_book, runtime, payload, True)


def _book(runtime: Runtime, payload: Any, meet_now: bool) -> JSONResponse:
    if meet_now and isinstance(payload, dict):
        payload = {**payload, "meet_now": True}
    try:
        request = BookingRequest.model_validate(payload)
    except ValidationError as exc:
        return invalid(exc)
    try:
        reserved = submit_booking(runtime, request)
    except BookingProblems as exc:
        return unprocessable(exc.problems)
    except BookingForbidden as exc:
        log.warning("booking_forbidden", scheduler_user_id=request.scheduler_user_id, reason=str(exc))
        return detail(403, str(exc))
    except SlotUnavailable as exc:
        return taken(exc)
    except RequestIdTaken as exc:
        return detail(409, str(exc))
    except NotEnqueued:
        return detail(503, "could not enqueue; retry later")
    body = booking_view(reserved.booking)
    body["status_url"] = f"/bookings/{reserved.booking.id}"
    return JSONResponse(body, status_code=202)


@router.post("/bookings/events", status_code=202, openapi_extra=EVENTS_BODY)
async def booking_events(caller: Writer, request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Relayed ``Booking_Request__e`` platform events (one Bayeux message or its data, or a list):
    each is queued for the ``booking_request`` actor; 202 once the broker confirmed them."""
    payload = await read_json(request, runtime.settings.max_request_bytes)
    return await in_thread(_queue_booking_events, caller, runtime, payload)


def _queue_booking_events(caller: Caller, runtime: Runtime, payload: Any) -> JSONResponse:
    messages = payload if isinstance(payload, list) else [payload]
    if len(messages) > MAX_EVENTS:
        return detail(413, f"at most {MAX_EVENTS} events per call")
    try:
        requests = [booking_request_from_event(message if isinstance(message, dict) else {}, f"[{index}]")
                    for index, message in enumerate(messages)]
    except InputError as exc:
        return detail(422, str(exc))
    if caller.scheduler_user_id is not None:
        for booking_request in requests:
            as_caller(caller, {"scheduler_user_id": booking_request.scheduler_user_id})
    actor = runtime.broker.get_actor(BOOKING_REQUEST.name)
    try:
        for booking_request in requests:
            actor.send(booking_request.model_dump(mode="json"))
    except Exception as exc:  # noqa: BLE001 (the relay retries anything but a 202)
        log.error("booking_events_enqueue_failed", error=str(exc))
        return detail(503, "could not enqueue; retry later")
    return JSONResponse({"accepted": len(requests)}, status_code=202)


@router.get("/bookings/{booking_id}")
def booking_status(caller: Reader, booking_id: str, ports: PortsDep) -> Any:
    """A booking's status; a scheduler's token sees only that scheduler's bookings."""
    booking = ports.store.bookings.get(booking_id)
    if booking is None or (caller.scheduler_user_id is not None
                           and not same_user(booking.scheduler_user_id, caller.scheduler_user_id)):
        raise HTTPException(404, f"no booking {booking_id}")
    return booking_view(booking)
