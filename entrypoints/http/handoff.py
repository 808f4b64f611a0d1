"""The handoff page: the rep's booking screen, server-rendered (Jinja2) with htmx, served by the web process.

Opened from Salesforce as a Canvas app (``POST /handoff/canvas`` with the signed request) or outside it with
a signed link (``GET /handoff?link=...``). Either gives the page a short-lived page token that every later
call sends in the ``X-Baton-Page-Token`` header; the scheduler and the record always come from the token,
never from the form. Booking goes through the same planning, reservation and chain as the booking API.
(No postponed annotations: FastAPI reads the dependencies defined inside ``handoff_router``.)
"""

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

import structlog
from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from adapters.salesforce.rereads import SoqlRecordReader
from baton import runtime
from baton.booking.chain import bookings_of
from baton.booking.directory import UnknownHost, host_info
from baton.booking.planning import BookingPlan, BookingProblems, plan_booking, plan_slots
from baton.booking.records import booking_suggestion
from baton.booking.reserve import SlotUnavailable
from baton.booking.schedules import host_schedules
from baton.booking.submit import NotEnqueued, submit_booking
from baton.errors import PermanentError, TransientError
from baton.handoff.hosts import BadHostChoice, encode, host_choices, parse_host
from baton.handoff.records import read_record, record_details
from baton.handoff.week import first_week, week_span, week_view
from entrypoints.http.canvas import CanvasRejected, verify_signed_request
from entrypoints.http.page_tokens import (
    HEADER,
    PageClaims,
    TokenRejected,
    page_claims_dependency,
    page_token_for,
    read,
)
from messages.booking import FINAL_STATUSES, BookingRequest, BookingStatus
from routing.booking.config import HostOption
from routing.booking.pools import meet_now
from routing.booking.slots import Interval, Slot, zone

log = structlog.get_logger(__name__)
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
STATUS_TEXT = {
    "reserved": "Reserved: creating the calendar event…", "calendar_created": "Calendar event created…",
    "event_created": "Salesforce Event created…", "confirmed": "Confirmed", "failed": "Failed",
    "cancelled": "Cancelled", "requested": "Requested…",
}
ReaderFactory = Callable[[], SoqlRecordReader | None]


def _fields(raw: bytes) -> dict[str, list[str]]:
    return parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)


class Form:
    """The page's inputs, from the query string (GET) or the urlencoded body (POST)."""

    def __init__(self, values: Mapping[str, list[str]]):
        self.values = values

    def one(self, name: str, default: str = "") -> str:
        found = self.values.get(name) or [default]
        return found[-1].strip()

    def many(self, name: str) -> list[str]:
        return [value.strip() for value in self.values.get(name, []) if value.strip()]

    @classmethod
    async def of(cls, request: Request) -> "Form":
        if request.method == "GET":
            return cls({key: request.query_params.getlist(key) for key in request.query_params})
        return cls(_fields(await request.body()))


class PageError(Exception):
    """What the scheduler asked cannot be shown or booked; ``problems`` name the fields."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))


def _security_headers(response: Response, frame_ancestors: str) -> Response:
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors {frame_ancestors}")
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _local(moment: datetime, time_zone: str) -> datetime:
    return moment.astimezone(zone(time_zone))


class Page:
    """One request's view of the page: the claims, the config and the plan for the chosen host."""

    def __init__(self, state: runtime.Runtime, claims: PageClaims, form: Form):
        self.state = state
        self.claims = claims
        self.form = form
        self.ports = state.ports
        self.now = self.ports.clock()
        self.bookings = bookings_of(self.ports)
        self.version, self.config = self.ports.configs.current()
        try:
            self.settings = self.config.booking.for_object(claims.object_type)
        except KeyError:
            raise PageError([("object_type", f"{claims.object_type} has no booking settings")]) from None
        self.suggestion = booking_suggestion(self.config, self.ports.store, claims.object_type, claims.record_id,
                                             claims.record_fields, self.now)

    # choices ------------------------------------------------------------------------------------
    def host_value(self) -> str:
        return self.form.one("host") or encode(self.suggestion.host)

    def chosen_host(self) -> tuple[HostOption, str | None]:
        try:
            return parse_host(self.form.one("slot_host") or self.host_value())
        except BadHostChoice as exc:
            raise PageError([("host", str(exc))]) from None

    def meeting_type(self) -> str:
        return self.form.one("meeting_type") or self.suggestion.meeting_type

    def types(self) -> list[str]:
        if self.suggestion.meeting_type_locked:
            return [self.suggestion.meeting_type]
        return self.settings.allowed_types or [booking_type.name for booking_type in self.config.booking.types]

    def plan(self, option: HostOption | None = None) -> BookingPlan:
        host, _ = self.chosen_host() if option is None else (option, None)
        try:
            return plan_booking(self.version, self.config, self.ports.store, self.bookings,
                                object_type=self.claims.object_type, record_id=self.claims.record_id,
                                record_fields=self.claims.record_fields, host=host,
                                meeting_type=self.meeting_type(), co_hosts=self.form.many("co_hosts"), now=self.now)
        except BookingProblems as exc:
            raise PageError(exc.problems) from None

    def show_all(self) -> bool:
        return self.form.one("show_all") in ("1", "on", "true") or self.settings.show_all_availability

    def availability_option(self) -> tuple[HostOption, str | None]:
        """With "show all availability", a pool member's whole pool is asked (every host's times at once)."""
        try:
            option, member = parse_host(self.host_value())
        except BadHostChoice as exc:
            raise PageError([("host", str(exc))]) from None
        if self.show_all() and option.kind == "user":
            team = next((team.name for team in self.config.teams if team.member(option.user_id or "")
                         and team.name in [pool.team for pool in self.config.booking.pools]), None)
            if team is not None and not self.suggestion.host_locked:
                return HostOption(kind="pool", team=team), None
        if self.show_all() and member is not None:
            return option, None
        return option, member

    def week_slots(self, plan: BookingPlan, member: str | None, window: Interval) -> list[Slot]:
        slots = plan_slots(plan, window, self.now, self.ports.calendar, self.bookings)
        if member is None:
            return slots
        return [replace(slot, host_ids=(member,)) for slot in slots if member in slot.host_ids]

    def monday(self) -> date:
        current = first_week(self.now, self.claims.time_zone)
        try:
            asked = date.fromisoformat(self.form.one("week")) if self.form.one("week") else current
        except ValueError:
            raise PageError([("week", "is not a date")]) from None
        return max(asked - timedelta(days=asked.weekday()), current)

    def names(self, plan: BookingPlan) -> dict[str, str]:
        return {host_id: info.name for host_id, info in plan.directory.items()}

    def owner_name(self, user_id: str) -> str:
        if not user_id:
            return ""
        try:
            return host_info(self.config, self.ports.store, user_id).name
        except UnknownHost:
            return user_id


def _render(request: Request, name: str, context: dict[str, Any], frame_ancestors: str,
            status_code: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, {"status_text": STATUS_TEXT, **context},
                                          status_code=status_code)
    return _security_headers(response, frame_ancestors)  # type: ignore[return-value]


def handoff_router(current: Callable[[], runtime.Runtime] = runtime.current,
                   reader: ReaderFactory = lambda: None) -> APIRouter:
    router = APIRouter(prefix="/handoff", tags=["handoff"], include_in_schema=False)
    Session = Annotated[tuple[runtime.Runtime, PageClaims], Depends(page_claims_dependency(current))]

    def page_context(state: runtime.Runtime, claims: PageClaims) -> dict[str, Any]:
        page = Page(state, claims, Form({}))
        fields = {**read_record(reader(), state.ports.store, claims.object_type, claims.record_id, page.settings),
                  **claims.record_fields}
        claims = replace(claims, record_fields=fields)
        page = Page(state, claims, Form({}))
        details = record_details(claims.object_type, claims.record_id, fields, page.settings,
                                 page.owner_name(str(fields.get("OwnerId") or "")))
        context = availability_context(page)
        owners = {"record_owner": details.owner_name}
        return {**context, "claims": claims, "record": details, "types": page.types(),
                "type_locked": page.suggestion.meeting_type_locked, "host_locked": page.suggestion.host_locked,
                "choices": host_choices(page.config, claims.object_type, page.suggestion, owners),
                "token": page_token_for(claims, state.settings, state.ports.clock()), "header": HEADER,
                "instant_handoff": page.settings.instant_handoff, "co_host_choices": co_host_choices(page)}

    def co_host_choices(page: Page) -> list[tuple[str, str, str]]:
        seen: dict[str, tuple[str, str, str]] = {}
        for pool in page.config.booking.pools:
            for member in page.config.team(pool.team).members:
                if member.active:
                    seen.setdefault(member.id, (member.id, member.name or member.id, member.timezone))
        return list(seen.values())

    def availability_context(page: Page) -> dict[str, Any]:
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
                "host_zones": {host_id: info.time_zone for host_id, info in plan.directory.items()},
                "scheduler_zone": page.claims.time_zone}

    def problems_response(request: Request, state: runtime.Runtime, problems: list[tuple[str, str]]
                          ) -> HTMLResponse:
        return _render(request, "handoff/problems.html", {"problems": problems},
                       state.settings.handoff_frame_ancestors)

    async def fragment(request: Request, state: runtime.Runtime, build: Callable[[], dict[str, Any]],
                       template: str | Callable[[dict[str, Any]], str]) -> Response:
        """Builds the context off the event loop and renders it, or the problems naming the fields."""
        try:
            context = await _threaded(build)
        except PageError as exc:
            return problems_response(request, state, exc.problems)
        name = template if isinstance(template, str) else template(context)
        return _render(request, name, context, state.settings.handoff_frame_ancestors)

    async def open_page(request: Request, state: runtime.Runtime, claims: PageClaims) -> Response:
        try:
            context = await _threaded(page_context, state, claims)
        except PageError as exc:
            return problems_response(request, state, exc.problems)
        log.info("handoff_opened", scheduler=claims.scheduler_id, object_type=claims.object_type,
                 record_id=claims.record_id)
        return _render(request, "handoff/page.html", context, state.settings.handoff_frame_ancestors)

    @router.post("/canvas")
    async def canvas(request: Request) -> Response:
        """Salesforce Canvas posts the signed request here; anything that does not verify gets a bare 401."""
        state = current()
        settings = state.settings
        if not settings.canvas_consumer_secret or not settings.page_token_secret:
            return Response(status_code=404)
        body = await request.body()
        signed = (_fields(body).get("signed_request") or [""])[-1] if len(body) <= settings.max_request_bytes else ""
        max_age = timedelta(seconds=settings.canvas_max_age_s) if settings.canvas_max_age_s else None
        try:
            context = verify_signed_request(signed, settings.canvas_consumer_secret, state.ports.clock(), max_age)
        except CanvasRejected as exc:
            log.warning("canvas_rejected", reason=str(exc))
            return Response(status_code=401)
        claims = PageClaims(scheduler_id=context.user_id, scheduler_name=context.user_name,
                            object_type=context.object_type, record_id=context.record_id,
                            time_zone=context.time_zone, scheduler_email=context.email,
                            record_fields=context.record_fields)
        return await open_page(request, state, claims)

    @router.get("")
    async def by_link(request: Request, link: str = "") -> Response:
        """Outside Salesforce: a signed link (``baton handoff-link``) opens the page."""
        state = current()
        secret = state.settings.page_token_secret
        if not secret:
            return Response(status_code=404)
        try:
            claims = read(link, secret, "link", state.ports.clock())
        except TokenRejected as exc:
            log.warning("handoff_link_rejected", reason=str(exc))
            return Response(status_code=401)
        return await open_page(request, state, claims)

    @router.get("/availability")
    async def availability(request: Request, session: Session) -> Response:
        state, claims = session
        form = await Form.of(request)
        return await fragment(request, state, lambda: availability_context(Page(state, claims, form)),
                              "handoff/availability.html")

    @router.get("/slot")
    async def slot(request: Request, session: Session) -> Response:
        """A time was picked: the hosts free then, each in their own time zone."""
        state, claims = session
        form = await Form.of(request)

        def build() -> dict[str, Any]:
            page = Page(state, claims, form)
            try:
                start = datetime.fromisoformat(form.one("start"))
            except ValueError:
                raise PageError([("start", "is not a time")]) from None
            option, member = page.availability_option()
            plan = page.plan(option)
            slots = page.week_slots(plan, member, Interval(start, start + plan.meeting_length))
            free = next((slot.host_ids for slot in slots if slot.start == start), ())
            pickable = page.show_all() or plan.hosts.mode == "manual"
            return {"start": start, "free": free, "names": page.names(plan), "pickable": pickable,
                    "host_zones": {host_id: info.time_zone for host_id, info in plan.directory.items()},
                    "scheduler_zone": claims.time_zone, "slot_values": slot_values(page, plan, free),
                    "host_value": page.host_value(), "local": _local}

        return await fragment(request, state, build, "handoff/selection.html")

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

    @router.post("/invitees")
    async def invitee(request: Request, session: Session) -> Response:
        """One more invitee, typed and confirmed with Enter: a chip when valid, the reason when not."""
        state, _ = session
        address = Form(_fields(await request.body())).one("new_invitee")
        try:
            email = validate_email(address, check_deliverability=False).normalized
            error = ""
        except EmailNotValidError as exc:
            email, error = address, str(exc)
        return _render(request, "handoff/invitee.html", {"email": email, "error": error},
                       state.settings.handoff_frame_ancestors)

    @router.post("/book")
    async def book(request: Request, session: Session) -> Response:
        state, claims = session
        form = Form(_fields(await request.body()))

        def run() -> dict[str, Any]:
            page = Page(state, claims, form)
            option, member = page.chosen_host()
            meet = form.one("meet_now") == "1"
            payload: dict[str, Any] = {
                "object_type": claims.object_type, "record_id": claims.record_id,
                "scheduler_user_id": claims.scheduler_id, "scheduler_name": claims.scheduler_name,
                "meeting_type": page.meeting_type(), "host": option.model_dump(exclude_none=True),
                "pool_member_id": member, "co_hosts": form.many("co_hosts"),
                "guest_email": form.one("guest_email"), "guest_name": form.one("guest_name"),
                "invitees": form.many("invitees"), "record_fields": claims.record_fields,
                "request_id": form.one("request_id") or None,
            }
            if meet:
                payload["meet_now"] = True
            else:
                payload["start"] = form.one("start") or None
            if form.one("meeting_platform"):
                payload["meeting_platform"] = form.one("meeting_platform")
            try:
                booking_request = BookingRequest.model_validate(
                    {key: value for key, value in payload.items() if value is not None})
            except ValidationError as exc:
                raise PageError([(".".join(str(part) for part in error["loc"]) or "request", error["msg"])
                                 for error in exc.errors(include_url=False, include_input=False)]) from None
            try:
                reserved = submit_booking(state, booking_request)
            except BookingProblems as exc:
                raise PageError(exc.problems) from None
            except SlotUnavailable as exc:
                return {"taken": exc, "alternatives": exc.alternatives, "names": page.names(page.plan()),
                        "scheduler_zone": claims.time_zone, "local": _local}
            except NotEnqueued:
                raise PageError([("booking", "could not be queued; try again")]) from None
            log.info("handoff_booked", booking_id=reserved.booking.id, scheduler=claims.scheduler_id)
            return {"booking": reserved.booking, "final": False, "names": page.names(page.plan()),
                    "scheduler_zone": claims.time_zone, "local": _local}

        return await fragment(request, state, run, lambda context: "handoff/alternatives.html"
                              if "taken" in context else "handoff/status.html")

    @router.get("/bookings/{booking_id}")
    async def booking_status(request: Request, booking_id: str, session: Session) -> Response:
        state, claims = session
        booking = bookings_of(state.ports).get(booking_id)
        if booking is None or booking.record_id != claims.record_id:
            return problems_response(request, state, [("booking", f"no booking {booking_id} on this record")])
        final = BookingStatus(booking.status) in FINAL_STATUSES
        names: dict[str, str] = {}
        if final:
            try:
                names = {booking.host_id: host_info(state.ports.configs.current()[1], state.ports.store,
                                                    booking.host_id).name}
            except UnknownHost:
                names = {}
        return _render(request, "handoff/status.html",
                       {"booking": booking, "final": final, "names": names, "scheduler_zone": claims.time_zone,
                        "local": _local}, state.settings.handoff_frame_ancestors)

    @router.get("/meet-now")
    async def meet_now_panel(request: Request, session: Session) -> Response:
        """Instant handoff: who in the pool is free for the whole meeting from now."""
        state, claims = session
        form = await Form.of(request)

        def build() -> dict[str, Any]:
            page = Page(state, claims, form)
            if not page.settings.instant_handoff:
                raise PageError([("meet_now", f"instant handoff is off for {claims.object_type}")])
            option, _ = page.chosen_host()
            if option.kind != "pool":
                pools = [pool.team for pool in page.config.booking.pools]
                offered = page.settings.pools or pools
                if not offered:
                    raise PageError([("meet_now", "no pool to ask")])
                option = HostOption(kind="pool", team=offered[0])
            plan = page.plan(option)
            start = page.now.replace(microsecond=0)
            before, after = plan.buffers
            span = Interval(start - before, start + plan.meeting_length + after)
            schedules = host_schedules(plan.directory, span, page.ports.calendar, page.bookings)
            free = meet_now(plan.booking_type, plan.hosts, schedules, start, plan.meeting_counts)
            return {"free": free, "names": page.names(plan), "pool": option.team,
                    "minutes": plan.booking_type.duration_minutes,
                    "host_zones": {host_id: info.time_zone for host_id, info in plan.directory.items()}}

        return await fragment(request, state, build, "handoff/meet_now.html")

    return router


def mount_handoff(app: FastAPI, current: Callable[[], runtime.Runtime] = runtime.current,
                  reader: ReaderFactory = lambda: None) -> None:
    """The page's routes and its static files (htmx, script, styles: no CDN)."""
    app.include_router(handoff_router(current, reader))
    app.mount("/handoff/static", StaticFiles(directory=str(HERE / "static")), name="handoff-static")


async def _threaded(function: Callable[..., Any], *args: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    try:
        return await run_in_threadpool(function, *args)
    except TransientError as exc:
        raise PageError([("service", f"try again: {exc}")]) from None
    except PermanentError as exc:
        raise PageError([("request", str(exc))]) from None
