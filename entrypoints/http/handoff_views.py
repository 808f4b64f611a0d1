"""What each part of the handoff page shows: the context its template is rendered with, built off the event
loop from the runtime, the page token's claims and the form (``PageError`` names what cannot be shown)."""

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import structlog
from pydantic import ValidationError

from adapters.salesforce.rereads import RecordReader
from baton.booking.directory import UnknownHost, host_info
from baton.booking.handoff.hosts import encode, host_choices
from baton.booking.handoff.records import read_record, record_details
from baton.booking.handoff.week import week_span, week_view
from baton.booking.planning import BookingPlan, BookingProblems
from baton.booking.reserve import RequestIdTaken, SlotUnavailable
from baton.booking.schedules import host_schedules
from baton.booking.submit import NotEnqueued, submit_booking
from baton.runtime import Runtime
from entrypoints.http.handoff_page import Form, Page, PageError, local
from entrypoints.http.page_tokens import HEADER, PageClaims, page_token_for
from messages.booking import FINAL_STATUSES, BookingRequest, BookingStatus
from routing.booking.config import HostOption
from routing.booking.pools import meet_now
from routing.booking.slots import Interval

log = structlog.get_logger(__name__)


def page_context(runtime: Runtime, claims: PageClaims, reader: Callable[[], RecordReader | None]) -> dict[str, Any]:
    """The whole page: the record (read again from Salesforce when ``reader`` gives a reader), the host and
    type choices and the first week's availability."""
    page = Page(runtime, claims, Form({}))
    fields = {**read_record(reader(), page.ports.reference_sync, claims.object_type, claims.record_id, page.settings),
              **claims.record_fields}
    claims = replace(claims, record_fields=fields)
    page = Page(runtime, claims, Form({}))
    details = record_details(claims.object_type, claims.record_id, fields, page.settings,
                             page.owner_name(str(fields.get("OwnerId") or "")))
    context = availability_context(page)
    owners = {"record_owner": details.owner_name}
    return {**context, "claims": claims, "record": details, "types": page.types(),
            "type_locked": page.suggestion.meeting_type_locked, "host_locked": page.suggestion.host_locked,
            "choices": host_choices(page.config, claims.object_type, page.suggestion, owners),
            "token": page_token_for(claims, runtime.settings, runtime.ports.clock()), "header": HEADER,
            "instant_handoff": page.settings.instant_handoff, "co_host_choices": co_host_choices(page)}


def co_host_choices(page: Page) -> list[tuple[str, str, str]]:
    seen: dict[str, tuple[str, str, str]] = {}
    for pool in page.config.booking.pools:
        for member in page.config.team(pool.team).members:
            if member.active:
                seen.setdefault(member.id, (member.id, member.name or member.id, member.timezone))
    return list(seen.values())


def availability_context(page: Page) -> dict[str, Any]:
    """The week shown: its free times for the chosen host (or the whole pool, with "show all")."""
    option, member = page.availability_option()
    plan = page.plan(option)
    monday = page.monday()
    slots = page.week_slots(plan, member, week_span(monday, page.claims.time_zone, page.now))
    week = week_view(monday, page.claims.time_zone, page.now, plan.booking_type, slots)
    platform = plan.booking_type.meeting_platform
    names = page.names(plan)
    return {"week": week, "plan": plan, "names": names, "show_all": page.show_all(),
            "names_of": lambda ids: ", ".join(names.get(host_id, host_id) for host_id in ids),
            "host_value": page.host_value(), "meeting_type": plan.booking_type.name, "platform": platform,
            "host_zones": host_zones(plan), "scheduler_zone": page.claims.time_zone}


def host_zones(plan: BookingPlan) -> dict[str, str]:
    return {host_id: info.time_zone for host_id, info in plan.directory.items()}


def slot_context(page: Page) -> dict[str, Any]:
    """A time was picked: the hosts free then, each in their own time zone."""
    try:
        start = datetime.fromisoformat(page.form.one("start"))
    except ValueError:
        raise PageError([("start", "is not a time")]) from None
    option, member = page.availability_option()
    plan = page.plan(option)
    slots = page.week_slots(plan, member, Interval(start, start + plan.meeting_length))
    free = next((slot.host_ids for slot in slots if slot.start == start), ())
    pickable = page.show_all() or plan.hosts.mode == "manual"
    return {"start": start, "free": free, "names": page.names(plan), "pickable": pickable,
            "host_zones": host_zones(plan), "scheduler_zone": page.claims.time_zone,
            "slot_values": slot_values(page, plan, free), "host_value": page.host_value(), "local": local}


def slot_values(page: Page, plan: BookingPlan, free: tuple[str, ...]) -> dict[str, str]:
    """The host value booking each free host picked after a time (a manual pool's member, else the user)."""
    option = plan.option
    values = {}
    for host_id in free:
        if option.kind == "pool" and plan.hosts.mode == "manual":
            values[host_id] = encode(option, host_id)
        elif "user" in page.settings.host_options:
            values[host_id] = encode(HostOption(kind="user", user_id=host_id))
        else:
            values[host_id] = page.host_value()
    return values


def booked_context(page: Page) -> dict[str, Any]:
    """Books what the form asks: the booking to follow, or the nearest free times when the slot was taken."""
    booking_request = _booking_request(page)
    claims = page.claims
    try:
        reserved = submit_booking(page.state, booking_request)
    except BookingProblems as exc:
        raise PageError(exc.problems) from None
    except SlotUnavailable as exc:
        return {"taken": exc, "alternatives": exc.alternatives, "names": page.names(page.plan()),
                "scheduler_zone": claims.time_zone, "local": local}
    except RequestIdTaken as exc:
        raise PageError([("request_id", str(exc))]) from None
    except NotEnqueued:
        raise PageError([("booking", "could not be queued; try again")]) from None
    log.info("handoff_booked", booking_id=reserved.booking.id, scheduler=claims.scheduler_id)
    return {"booking": reserved.booking, "final": False, "names": page.names(page.plan()),
            "scheduler_zone": claims.time_zone, "local": local}


def _booking_request(page: Page) -> BookingRequest:
    """The request the form asks for; the scheduler and the record come from the page token, never the form."""
    claims, form = page.claims, page.form
    option, member = page.chosen_host()
    payload: dict[str, Any] = {
        "object_type": claims.object_type, "record_id": claims.record_id,
        "scheduler_user_id": claims.scheduler_id, "scheduler_name": claims.scheduler_name,
        "meeting_type": page.meeting_type(), "host": option.model_dump(exclude_none=True),
        "pool_member_id": member, "co_hosts": form.many("co_hosts"),
        "guest_email": form.one("guest_email"), "guest_name": form.one("guest_name"),
        "invitees": form.many("invitees"), "record_fields": claims.record_fields,
        "request_id": form.one("request_id") or None,
    }
    if form.one("meet_now") == "1":
        payload["meet_now"] = True
    else:
        payload["start"] = form.one("start") or None
    if form.one("meeting_platform"):
        payload["meeting_platform"] = form.one("meeting_platform")
    try:
        return BookingRequest.model_validate({key: value for key, value in payload.items() if value is not None})
    except ValidationError as exc:
        raise PageError([(".".join(str(part) for part in error["loc"]) or "request", error["msg"])
                         for error in exc.errors(include_url=False, include_input=False)]) from None


def status_context(runtime: Runtime, claims: PageClaims, booking_id: str) -> dict[str, Any]:
    """A booking of this record as it goes on; the host's name once it is final."""
    booking = runtime.ports.store.bookings.get(booking_id)
    if booking is None or booking.record_id != claims.record_id:
        raise PageError([("booking", f"no booking {booking_id} on this record")])
    final = BookingStatus(booking.status) in FINAL_STATUSES
    names: dict[str, str] = {}
    if final:
        try:
            names = {booking.host_id: host_info(runtime.ports.configs.current()[1], runtime.ports.store.reference_sync,
                                                booking.host_id).name}
        except UnknownHost:
            names = {}
    return {"booking": booking, "final": final, "names": names, "scheduler_zone": claims.time_zone, "local": local}


def meet_now_context(page: Page) -> dict[str, Any]:
    """Instant handoff: who in the pool is free for the whole meeting from now."""
    if not page.settings.instant_handoff:
        raise PageError([("meet_now", f"instant handoff is off for {page.claims.object_type}")])
    option = _meet_now_pool(page)
    plan = page.plan(option)
    start = page.now.replace(microsecond=0)
    before, after = plan.buffers
    span = Interval(start - before, start + plan.meeting_length + after)
    schedules = host_schedules(plan.directory, span, page.ports.calendar, page.bookings)
    free = meet_now(plan.booking_type, plan.hosts, schedules, start, plan.meeting_counts)
    return {"free": free, "names": page.names(plan), "pool": option.team,
            "minutes": plan.booking_type.duration_minutes, "host_zones": host_zones(plan)}


def _meet_now_pool(page: Page) -> HostOption:
    """The chosen pool, else the first pool the object offers."""
    option, _ = page.chosen_host()
    if option.kind == "pool":
        return option
    pools = [pool.team for pool in page.config.booking.pools]
    offered = page.settings.pools or pools
    if not offered:
        raise PageError([("meet_now", "no pool to ask")])
    return HostOption(kind="pool", team=offered[0])
