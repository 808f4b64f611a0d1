"""The handoff page: the rep's booking screen, server-rendered (Jinja2) with htmx, served by the web process.

Opened from Salesforce as a Canvas app (``POST /handoff/canvas`` with the signed request) or outside it with
a signed link (``GET /handoff?link=...``). Either gives the page a short-lived page token that every later
call sends in the ``X-Baton-Page-Token`` header; the scheduler and the record always come from the token,
never from the form. Booking goes through the same planning, reservation and chain as the booking API.
What each part shows: ``handoff_views``. (No postponed annotations: FastAPI reads the endpoints' signatures.)
"""

from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import structlog
from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from baton.framing import frame_ancestors
from baton.runtime import Runtime
from entrypoints.http.body import FORM_CONTENT_TYPE, BodyTooLarge, openapi_body, read_body
from entrypoints.http.canvas import MAX_SIGNED_REQUEST_BYTES, CanvasRejected, verify_signed_request
from entrypoints.http.dependencies import ReadersDep, RuntimeDep
from entrypoints.http.failures import failed, guard
from entrypoints.http.handoff_page import Form, Page, PageError, fields_of
from entrypoints.http.handoff_views import (
    availability_context,
    booked_context,
    meet_now_context,
    page_context,
    slot_context,
    status_context,
)
from entrypoints.http.page_tokens import PageClaims, TokenRejected, page_session, read
from entrypoints.http.readers import SalesforceReaders
from kernel.errors import PermanentError, TransientError

log = structlog.get_logger(__name__)
HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
STATUS_TEXT = {
    "reserved": "Reserved: creating the calendar event…", "calendar_created": "Calendar event created…",
    "event_created": "Salesforce Event created…", "confirmed": "Confirmed", "failed": "Failed",
    "cancelled": "Cancelled", "requested": "Requested…",
}
CANVAS_BODY_BYTES = 4 * MAX_SIGNED_REQUEST_BYTES  # the form-encoded signed request, with room for %-escapes
router = APIRouter(prefix="/handoff", tags=["handoff"])
Session = Annotated[tuple[Runtime, PageClaims], Depends(page_session)]
PageView = Callable[[Page], dict[str, Any]]


def _security_headers(response: Response, frame_ancestors: str) -> Response:
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors {frame_ancestors}")
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _refused(status: int, reason: str) -> Response:
    return Response(f"{reason}\n", status_code=status, media_type="text/plain")


def _render(request: Request, runtime: Runtime, name: str, context: dict[str, Any]) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, {"status_text": STATUS_TEXT, **context})
    return _security_headers(response, frame_ancestors(runtime.settings))  # type: ignore[return-value]


def _problems(request: Request, runtime: Runtime, problems: list[tuple[str, str]]) -> HTMLResponse:
    return _render(request, runtime, "handoff/problems.html", {"problems": problems})


async def _threaded(function: Callable[..., Any], *args: Any) -> Any:
    try:
        return await run_in_threadpool(function, *args)
    except TransientError as exc:
        raise PageError([("service", f"try again: {exc}")]) from None
    except PermanentError as exc:
        raise PageError([("request", str(exc))]) from None


async def _fragment(request: Request, runtime: Runtime, build: Callable[[], dict[str, Any]],
                    template: str | Callable[[dict[str, Any]], str]) -> Response:
    """Builds the context off the event loop and renders it, or the problems naming the fields."""
    try:
        context = await _threaded(build)
    except PageError as exc:
        return _problems(request, runtime, exc.problems)
    name = template if isinstance(template, str) else template(context)
    return _render(request, runtime, name, context)


async def _page_fragment(request: Request, session: tuple[Runtime, PageClaims], form: Form, view: PageView,
                         template: str | Callable[[dict[str, Any]], str]) -> Response:
    runtime, claims = session
    return await _fragment(request, runtime, lambda: view(Page(runtime, claims, form)), template)


async def _open_page(request: Request, runtime: Runtime, readers: SalesforceReaders, claims: PageClaims) -> Response:
    try:
        context = await _threaded(page_context, runtime, claims, partial(readers.get_or_none, runtime.settings, runtime.ports.store.describes))
    except PageError as exc:
        return _problems(request, runtime, exc.problems)
    log.info("handoff_opened", scheduler=claims.scheduler_id, object_type=claims.object_type,
             record_id=claims.record_id)
    return _render(request, runtime, "handoff/page.html", context)


@router.post("/canvas", openapi_extra=openapi_body(FORM_CONTENT_TYPE, {
    "type": "object", "properties": {"signed_request": {"type": "string"}}, "required": ["signed_request"]}))
async def canvas(request: Request, runtime: RuntimeDep, readers: ReadersDep) -> Response:
    """Salesforce Canvas posts the signed request here (a form body of at most CANVAS_BODY_BYTES, else 413);
    anything that does not verify gets a 401 naming why, a verified request from an organization not in
    BATON_SALESFORCE_ORG_IDS (all of them when it is empty) a 403."""
    settings = runtime.settings
    if not settings.canvas_consumer_secret or not settings.page_token_secret:
        return Response(status_code=404)
    await guard(request, runtime)  # 429 for an address that made too many failed authentications
    try:
        body = await read_body(request, min(CANVAS_BODY_BYTES, settings.max_request_bytes))
    except BodyTooLarge as exc:
        return _refused(413, f"signed request refused: {exc}")
    signed = (fields_of(body).get("signed_request") or [""])[-1]
    max_age = timedelta(seconds=settings.canvas_max_age_s) if settings.canvas_max_age_s else None
    try:
        context = verify_signed_request(signed, settings.canvas_consumer_secret, runtime.ports.clock(), max_age)
    except CanvasRejected as exc:
        log.warning("canvas_rejected", reason=str(exc))
        await failed(request, runtime, signed)
        return _refused(401, f"signed request refused: {exc}")
    if context.organization_id[:15] not in settings.allowed_org_ids:
        log.warning("canvas_org_refused", organization_id=context.organization_id)
        return _refused(403, f"organization {context.organization_id or '(none)'} is not in "
                        "BATON_SALESFORCE_ORG_IDS: it may not open the handoff page")
    claims = PageClaims(scheduler_id=context.user_id, scheduler_name=context.user_name,
                        object_type=context.object_type, record_id=context.record_id,
                        time_zone=context.time_zone, scheduler_email=context.email,
                        record_fields=context.record_fields)
    return await _open_page(request, runtime, readers, claims)


@router.get("")
async def by_link(request: Request, runtime: RuntimeDep, readers: ReadersDep, link: str = "") -> Response:
    """Outside Salesforce: a signed link (``baton handoff-link``) opens the page."""
    secret = runtime.settings.page_token_secret
    if not secret:
        return Response(status_code=404)
    await guard(request, runtime)
    try:
        claims = read(link, secret, "link", runtime.ports.clock())
    except TokenRejected as exc:
        log.warning("handoff_link_rejected", reason=str(exc))
        await failed(request, runtime, link)
        return _refused(401, f"link refused: {exc}")
    return await _open_page(request, runtime, readers, claims)


@router.get("/availability", include_in_schema=False)
async def availability(request: Request, session: Session) -> Response:
    return await _page_fragment(request, session, await Form.of(request), availability_context,
                                "handoff/availability.html")


@router.get("/slot", include_in_schema=False)
async def slot(request: Request, session: Session) -> Response:
    """A time was picked: the hosts free then, each in their own time zone."""
    return await _page_fragment(request, session, await Form.of(request), slot_context, "handoff/selection.html")


@router.post("/invitees", include_in_schema=False)
async def invitee(request: Request, session: Session) -> Response:
    """One more invitee, typed and confirmed with Enter: a chip when valid, the reason when not."""
    runtime, _ = session
    address = Form(fields_of(await request.body())).one("new_invitee")
    try:
        email = validate_email(address, check_deliverability=False).normalized
        error = ""
    except EmailNotValidError as exc:
        email, error = address, str(exc)
    return _render(request, runtime, "handoff/invitee.html", {"email": email, "error": error})


@router.post("/book", include_in_schema=False)
async def book(request: Request, session: Session) -> Response:
    form = Form(fields_of(await request.body()))
    return await _page_fragment(request, session, form, booked_context, lambda context: "handoff/alternatives.html"
                                if "taken" in context else "handoff/status.html")


@router.get("/bookings/{booking_id}", include_in_schema=False)
async def booking_status(request: Request, booking_id: str, session: Session) -> Response:
    runtime, claims = session
    try:
        context = await _threaded(status_context, runtime, claims, booking_id)
    except PageError as exc:
        return _problems(request, runtime, exc.problems)
    return _render(request, runtime, "handoff/status.html", context)


@router.get("/meet-now", include_in_schema=False)
async def meet_now_panel(request: Request, session: Session) -> Response:
    """Instant handoff: who in the pool is free for the whole meeting from now."""
    return await _page_fragment(request, session, await Form.of(request), meet_now_context, "handoff/meet_now.html")
