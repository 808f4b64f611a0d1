"""The booking API: availability, reserve a slot (202 or 409 with alternatives), status, meet now.

Bearer tokens with ``bookings:read`` (availability, status) or ``bookings:write`` (book), rate-limited per
token. A token made for one scheduler (``baton tokens create --scheduler-user ID``) books only as that
scheduler and sees only that scheduler's bookings; what any scheduler may book is the org config's
``booking.schedulers`` (a 403 names why not). (No postponed annotations here: FastAPI reads the
dependencies defined inside ``booking_router``.)
"""


import json
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, ValidationError

from adapters.salesforce.booking_requests import booking_request_from_event
from adapters.store.bookings import BookingRow
from baton import runtime
from baton.booking import lifecycle
from baton.booking.chain import bookings_of
from baton.booking.planning import (
    BookingForbidden,
    BookingProblems,
    check_scheduler,
    plan_booking,
    plan_slots,
    skipped_hosts,
)
from baton.booking.reserve import SlotUnavailable
from baton.booking.submit import NotEnqueued, submit_booking
from baton.errors import InputError, PermanentError, TransientError
from entrypoints.http.auth import BOOKINGS_READ, BOOKINGS_WRITE, Caller, requires
from entrypoints.http.body import BodyTooLarge, json_objects, openapi_body, read_body
from messages.booking import BookingRequest, CancelBooking, ReassignBooking, RescheduleBooking
from routing.booking.config import HostKind, HostOption
from routing.booking.pools import free_times_by_host
from routing.booking.slots import Interval, Slot

log = structlog.get_logger(__name__)
MAX_RANGE = timedelta(days=31)
MAX_EVENTS = 100
REQUEST_STAGE = "booking_request"
JSON_CONTENT_TYPE = "application/json"
SAME_USER = 15  # an 18-character Salesforce id is the 15-character one plus a checksum


def _slot(slot: Slot) -> dict[str, Any]:
    return {"start": slot.start.isoformat(), "end": slot.end.isoformat(), "host_ids": list(slot.host_ids)}


def _unprocessable(problems: list[tuple[str, str]], where: str = "body") -> JSONResponse:
    return JSONResponse({"detail": [{"loc": [where, *field.split(".")], "msg": message, "type": "booking"}
                                    for field, message in problems]}, status_code=422)


def _invalid(exc: ValidationError) -> JSONResponse:
    return JSONResponse({"detail": [{"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
                                    for error in exc.errors(include_url=False, include_input=False)]},
                        status_code=422)


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


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its ``$defs`` resolved in place (for ``openapi_extra``)."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    return resolve(schema)


BOOKING_BODY = openapi_body(JSON_CONTENT_TYPE, _inline(BookingRequest.model_json_schema()))
EVENTS_BODY = openapi_body(JSON_CONTENT_TYPE, json_objects(MAX_EVENTS))


def _same_user(a: str, b: str) -> bool:
    return a[:SAME_USER] == b[:SAME_USER]


def _as_caller(caller: Caller, payload: Any) -> Any:
    """A scheduler's token books as that scheduler: the body's ``scheduler_user_id`` defaults to it and
    may not name anyone else."""
    if caller.scheduler_user_id is None or not isinstance(payload, dict):
        return payload
    claimed = payload.get("scheduler_user_id")
    if claimed is None:
        return {**payload, "scheduler_user_id": caller.scheduler_user_id}
    if not isinstance(claimed, str) or not _same_user(claimed, caller.scheduler_user_id):
        raise HTTPException(403, f"token {caller.token_id} books as scheduler {caller.scheduler_user_id}, "
                                 f"not {claimed}")
    return payload


def booking_router(current: Callable[[], runtime.Runtime] = runtime.current) -> APIRouter:
    router = APIRouter(tags=["booking"])
    Reader = Annotated[Caller, Depends(requires(BOOKINGS_READ, current, rate_limited=True))]
    Writer = Annotated[Caller, Depends(requires(BOOKINGS_WRITE, current, rate_limited=True))]

    @router.get("/availability")
    def availability(
        caller: Reader,
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
            return _unprocessable([("end", f"must be after start and at most {MAX_RANGE.days} days later")],
                                  "query")
        try:
            host = HostOption(kind=host_kind, user_id=host_user_id, team=host_team) if host_kind else None
        except ValidationError as exc:
            return _unprocessable([("host_kind", error["msg"]) for error in exc.errors()], "query")
        ports = current().ports
        now = ports.clock()
        bookings = bookings_of(ports)
        version, config = ports.configs.current()
        try:
            plan = plan_booking(version, config, ports.store, bookings, object_type=object_type,
                                record_id=record_id, record_fields={}, host=host, meeting_type=meeting_type,
                                co_hosts=co_hosts, now=now, extra_pools=extra_pools)
            if caller.scheduler_user_id is not None:
                check_scheduler(config, plan, caller.scheduler_user_id, object_type)
        except BookingProblems as exc:
            return _unprocessable(exc.problems, "query")
        except BookingForbidden as exc:
            raise HTTPException(403, str(exc)) from None
        slots = plan_slots(plan, Interval(start, end), now, ports.calendar, bookings)
        answer: dict[str, Any] = {
            "booking_type": plan.booking_type.name, "mode": plan.hosts.mode,
            "host": plan.option.model_dump(exclude_none=True), "host_locked": plan.suggestion.host_locked,
            "meeting_type_locked": plan.suggestion.meeting_type_locked,
            "co_host_ids": list(plan.hosts.co_hosts),
            "hosts": {host_id: {"name": info.name, "time_zone": info.time_zone}
                      for host_id, info in plan.directory.items()},
            "slots": [_slot(slot) for slot in slots],
        }
        skipped = skipped_hosts(plan, Interval(start, end), now, bookings)
        if skipped:
            answer["skipped"] = skipped
        if show_all or plan.object_settings.show_all_availability:
            answer["by_host"] = {host_id: [_slot(slot)["start"] for slot in host_slots]
                                 for host_id, host_slots in free_times_by_host(slots).items()}
        return answer

    def _book(state: runtime.Runtime, payload: Any, meet_now: bool) -> JSONResponse:
        if meet_now and isinstance(payload, dict):
            payload = {**payload, "meet_now": True}
        try:
            request = BookingRequest.model_validate(payload)
        except ValidationError as exc:
            return _invalid(exc)
        try:
            reserved = submit_booking(state, request)
        except BookingProblems as exc:
            return _unprocessable(exc.problems)
        except BookingForbidden as exc:
            log.warning("booking_forbidden", scheduler_user_id=request.scheduler_user_id, reason=str(exc))
            return JSONResponse({"detail": str(exc)}, status_code=403)
        except SlotUnavailable as exc:
            return JSONResponse({"detail": exc.reason, "start": exc.start.isoformat(),
                                 "alternatives": [_slot(slot) for slot in exc.alternatives]}, status_code=409)
        except NotEnqueued:
            return JSONResponse({"detail": "could not enqueue; retry later"}, status_code=503)
        body = booking_view(reserved.booking)
        body["status_url"] = f"/bookings/{reserved.booking.id}"
        return JSONResponse(body, status_code=202)

    @router.post("/bookings", status_code=202, openapi_extra=BOOKING_BODY)
    async def create_booking(caller: Writer, request: Request) -> JSONResponse:
        """Reserves the slot at once (202 with the booking id), or 409 with the nearest free alternatives."""
        state = current()
        payload = _as_caller(caller, await _json(request, state.settings.max_request_bytes))
        return await _in_thread(_book, state, payload, False)

    @router.post("/bookings/meet-now", status_code=202, openapi_extra=BOOKING_BODY)
    async def meet_now(caller: Writer, request: Request) -> JSONResponse:
        """Instant handoff: a host free for the whole meeting starting now (no ``start`` in the body)."""
        state = current()
        payload = _as_caller(caller, await _json(request, state.settings.max_request_bytes))
        return await _in_thread(_book, state, payload, True)

    @router.post("/bookings/events", status_code=202, openapi_extra=EVENTS_BODY)
    async def booking_events(caller: Writer, request: Request) -> JSONResponse:
        """Relayed ``Booking_Request__e`` platform events (one Bayeux message or its data, or a list):
        each is queued for the ``booking_request`` actor; 202 once the broker confirmed them."""
        state = current()
        payload = await _json(request, state.settings.max_request_bytes)
        messages = payload if isinstance(payload, list) else [payload]
        if len(messages) > MAX_EVENTS:
            return JSONResponse({"detail": f"at most {MAX_EVENTS} events per call"}, status_code=413)
        try:
            requests = [booking_request_from_event(message, f"[{index}]") if isinstance(message, dict)
                        else booking_request_from_event({}, f"[{index}]") for index, message in enumerate(messages)]
        except InputError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=422)
        if caller.scheduler_user_id is not None:
            for booking_request in requests:
                _as_caller(caller, {"scheduler_user_id": booking_request.scheduler_user_id})
        actor = state.broker.get_actor(REQUEST_STAGE)
        try:
            for booking_request in requests:
                actor.send(booking_request.model_dump(mode="json"))
        except Exception as exc:  # noqa: BLE001 (the relay retries anything but a 202)
            log.error("booking_events_enqueue_failed", error=str(exc))
            return JSONResponse({"detail": "could not enqueue; retry later"}, status_code=503)
        return JSONResponse({"accepted": len(requests)}, status_code=202)

    def _changed(state: runtime.Runtime, booking: BookingRow) -> JSONResponse:
        try:
            lifecycle.send_sync(state.broker, booking.id, state.ports)
        except Exception as exc:  # noqa: BLE001 (the row changed; asking again re-sends the sync)
            log.error("booking_sync_enqueue_failed", booking_id=booking.id, error=str(exc))
            return JSONResponse({"detail": "changed, but the calendar update could not be enqueued; "
                                           "send the same request again"}, status_code=503)
        return JSONResponse(booking_view(booking), status_code=202)

    def _lifecycle(caller: Caller, booking_id: str, payload: Any, action: str) -> JSONResponse:
        state = current()
        models = {"cancel": CancelBooking, "reschedule": RescheduleBooking, "reassign": ReassignBooking}
        try:
            body = models[action].model_validate(payload) if action in models else None
        except ValidationError as exc:
            return _invalid(exc)
        ports = state.ports
        if caller.scheduler_user_id is not None:  # a scheduler's token changes only that scheduler's bookings
            found = bookings_of(ports).get(booking_id)
            if found is not None and not _same_user(found.scheduler_user_id, caller.scheduler_user_id):
                return JSONResponse({"detail": f"no booking {booking_id}"}, status_code=404)
        try:
            if isinstance(body, CancelBooking):
                booking = lifecycle.cancel(booking_id, body.reason or "cancelled through the API", ports)
            elif isinstance(body, RescheduleBooking):
                booking = lifecycle.move(booking_id, ports, start=body.start, reason=body.reason)
            elif isinstance(body, ReassignBooking):
                booking = lifecycle.move(booking_id, ports, exclude_host=body.host_id is None, host_id=body.host_id,
                                         reason=body.reason)
            else:
                booking = lifecycle.mark_no_show(booking_id, ports)
        except lifecycle.BookingNotFound as exc:
            return JSONResponse({"detail": str(exc)}, status_code=404)
        except lifecycle.BookingEnded as exc:
            return JSONResponse({"detail": f"{exc}: it cannot change any more"}, status_code=409)
        except BookingProblems as exc:
            return _unprocessable(exc.problems)
        except SlotUnavailable as exc:
            return JSONResponse({"detail": exc.reason, "start": exc.start.isoformat(),
                                 "alternatives": [_slot(slot) for slot in exc.alternatives]}, status_code=409)
        return _changed(state, booking)

    async def _payload(request: Request) -> Any:
        if request.headers.get("content-length", "0") == "0" and "transfer-encoding" not in request.headers:
            return {}
        return await _json(request, current().settings.max_request_bytes)

    @router.post("/bookings/{booking_id}/cancel", status_code=202)
    async def cancel_booking(caller: Writer, booking_id: str, request: Request) -> JSONResponse:
        """Cancels: the reserved time is freed, the calendar event cancelled, the Salesforce Event updated."""
        return await _in_thread(_lifecycle, caller, booking_id, await _payload(request), "cancel")

    @router.post("/bookings/{booking_id}/no-show", status_code=202)
    async def no_show(caller: Writer, booking_id: str) -> JSONResponse:
        """The guest did not come (counted in fairness unless the pool excludes no-shows)."""
        return await _in_thread(_lifecycle, caller, booking_id, None, "no_show")

    @router.post("/bookings/{booking_id}/reschedule", status_code=202)
    async def reschedule(caller: Writer, booking_id: str, request: Request) -> JSONResponse:
        """Moves the meeting: the same host when free (pool option), else routed again; 409 with alternatives."""
        return await _in_thread(_lifecycle, caller, booking_id, await _payload(request), "reschedule")

    @router.post("/bookings/{booking_id}/reassign", status_code=202)
    async def reassign(caller: Writer, booking_id: str, request: Request) -> JSONResponse:
        """Another pool member hosts at the same time; the previous host is credited back."""
        return await _in_thread(_lifecycle, caller, booking_id, await _payload(request), "reassign")

    @router.get("/bookings/{booking_id}")
    def booking_status(caller: Reader, booking_id: str) -> Any:
        """A booking's status; a scheduler's token sees only that scheduler's bookings."""
        booking = bookings_of(current().ports).get(booking_id)
        if booking is None or (caller.scheduler_user_id is not None
                               and not _same_user(booking.scheduler_user_id, caller.scheduler_user_id)):
            raise HTTPException(404, f"no booking {booking_id}")
        return booking_view(booking)

    return router


async def _json(request: Request, limit: int) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != JSON_CONTENT_TYPE:
        raise HTTPException(415, f"expected {JSON_CONTENT_TYPE}, got {content_type or 'no content type'}")
    try:
        body = await read_body(request, limit)
    except BodyTooLarge as exc:
        raise HTTPException(413, str(exc)) from None
    try:
        return json.loads(body)
    except ValueError as exc:
        raise HTTPException(400, f"malformed JSON: {exc}") from None


async def _in_thread(function: Callable[..., JSONResponse], *args: Any) -> JSONResponse:
    from starlette.concurrency import run_in_threadpool

    try:
        return await run_in_threadpool(function, *args)
    except PermanentError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    except TransientError as exc:
        return JSONResponse({"detail": f"try again: {exc}"}, status_code=503)

