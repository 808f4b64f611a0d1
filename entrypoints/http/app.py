"""The web process: Salesforce outbound messages and relayed change/platform events in (answered only
after the broker confirmed the enqueue)."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from adapters.salesforce.change_events import parse_posted
from adapters.salesforce.outbound import ACK, parse_outbound_message, to_events
from adapters.salesforce.rereads import RecordReader, SoqlRecordReader, record_events
from baton import runtime
from baton.errors import ConfigError, InputError, PermanentError, SessionInvalid, TransientError
from baton.ingest import enqueue
from baton.settings import Settings
from entrypoints.http.auth import EVENTS_WRITE, requires
from entrypoints.http.body import BodyTooLarge, json_objects, openapi_body, read_body
from entrypoints.http.bookings import booking_router
from entrypoints.http.handoff import mount_handoff
from entrypoints.http.operations import operations_router
from entrypoints.http.records import records_router

if TYPE_CHECKING:
    from simple_salesforce import Salesforce

log = structlog.get_logger(__name__)
SOAP_CONTENT_TYPES = ("text/xml", "application/soap+xml")
JSON_CONTENT_TYPE = "application/json"
MAX_POSTED_EVENTS = 1000


def _soap_fault(status: int, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>soapenv:{'Client' if status < 500 else 'Server'}</faultcode>"
        f"<faultstring>{_escape(message)}</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Response(body, status_code=status, media_type="text/xml")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


class _Readers:
    """One SOQL reader per process: logged in on first use, and again after Salesforce refused its session."""

    def __init__(self, login: Callable[[], Salesforce] | None):
        self._login = login
        self._reader: RecordReader | None = None

    def get(self, settings: Settings) -> RecordReader | None:
        if self._reader is None:
            from baton.bootstrap import salesforce_login

            login = self._login or salesforce_login(settings)
            self._reader = SoqlRecordReader(login()) if login else None
        return self._reader

    def forget(self) -> None:
        self._reader = None


def create_app(current: Callable[[], runtime.Runtime] = runtime.current,
               salesforce_login: Callable[[], Salesforce] | None = None) -> FastAPI:
    """``salesforce_login`` gives the session that re-reads records named by gap and platform events
    (default: the connected app in the settings)."""
    app = FastAPI(title="Baton", description="Salesforce record routing", version="0.1.0",
                  openapi_url=None, docs_url=None, redoc_url=None)
    readers = _Readers(salesforce_login)
    app.include_router(booking_router(current))

    def handoff_reader() -> RecordReader | None:
        try:
            return readers.get(current().settings)
        except Exception as exc:  # noqa: BLE001 (the page still opens from the synced copy)
            log.warning("handoff_reader_unavailable", error=str(exc))
            readers.forget()
            return None

    mount_handoff(app, current, handoff_reader)  # type: ignore[arg-type]

    app.include_router(operations_router(current))
    app.include_router(records_router(current, lambda: readers.get(current().settings), readers.forget))

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(requires(None, current))])
    def openapi_spec() -> JSONResponse:
        """The OpenAPI spec, for any caller with a valid token (it maps the attack surface)."""
        return JSONResponse(app.openapi())

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/salesforce/outbound/{token}", response_class=Response,
              openapi_extra=openapi_body("text/xml", {"type": "string", "description": "SOAP notifications"}))
    async def outbound_message(token: str, request: Request) -> Response:
        """Salesforce outbound message (SOAP, up to 100 notifications); answered with Ack true once enqueued."""
        state = current()
        settings = state.settings
        if not settings.outbound_token or not hmac.compare_digest(token.encode(), settings.outbound_token.encode()):
            return _soap_fault(404, "unknown endpoint")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in SOAP_CONTENT_TYPES:
            return _soap_fault(415, f"expected text/xml, got {content_type or 'no content type'}")
        try:
            body = await read_body(request, settings.max_request_bytes)
        except BodyTooLarge as exc:
            return _soap_fault(413, str(exc))
        try:
            message = parse_outbound_message(body)
            events = to_events(message, state.ports.clock(), settings.salesforce_user_id)
        except InputError as exc:
            log.warning("outbound_rejected", reason=str(exc))
            return _soap_fault(400, str(exc))
        if message.organization_id[:15] not in settings.allowed_org_ids:
            log.warning("outbound_rejected", reason="organization not allowed", org=message.organization_id)
            return _soap_fault(403, f"organization {message.organization_id} is not allowed")
        try:
            enqueue(state.broker, events, len(events), state.ports.clock())
        except Exception as exc:  # Salesforce retries anything but an Ack: nothing is lost
            log.error("outbound_enqueue_failed", error=str(exc), notifications=len(events))
            return _soap_fault(503, "could not enqueue; retry later")
        log.info("outbound_accepted", org=message.organization_id, notifications=len(events))
        return Response(ACK, media_type="text/xml")

    @app.post("/salesforce/events", status_code=202, dependencies=[Depends(requires(EVENTS_WRITE, current))],
              openapi_extra=openapi_body(JSON_CONTENT_TYPE, json_objects(MAX_POSTED_EVENTS)))
    async def change_events(request: Request) -> JSONResponse:
        """Change and platform events relayed as JSON (one Bayeux event message or its ``data``, or a
        list of them); 202 once the broker confirmed the enqueue, 503 when it did not."""
        state = current()
        settings = state.settings
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != JSON_CONTENT_TYPE:
            return _problem(415, f"expected {JSON_CONTENT_TYPE}, got {content_type or 'no content type'}")
        try:
            body = await read_body(request, settings.max_request_bytes)
        except BodyTooLarge as exc:
            return _problem(413, str(exc))
        try:
            posted = json.loads(body)
        except ValueError as exc:
            return _problem(400, f"malformed JSON: {exc}")
        now = state.ports.clock()
        try:
            intake = parse_posted(posted, now, MAX_POSTED_EVENTS)
            reader = readers.get(settings) if intake.rereads else None
            events = record_events(intake, reader, now, settings.salesforce_user_id)
        except (ConfigError, SessionInvalid, TransientError) as exc:
            if isinstance(exc, SessionInvalid):
                readers.forget()
            log.error("change_events_unreadable", error=str(exc))
            return _problem(503, f"cannot read the named records from Salesforce now: {exc}")
        except PermanentError as exc:  # InputError included: the event itself is wrong
            log.warning("change_events_rejected", reason=str(exc))
            return _problem(422, str(exc))
        try:
            if events:
                enqueue(state.broker, events, len(events), now)
        except Exception as exc:  # the relay retries anything but a 202: nothing is lost
            log.error("change_events_enqueue_failed", error=str(exc), events=len(events))
            return _problem(503, "could not enqueue; retry later")
        log.info("change_events_accepted", events=len(events), ignored=len(intake.ignored))
        return JSONResponse({"accepted": len(events), "ignored": len(intake.ignored)}, status_code=202)

    return app


def create_app_from_env() -> FastAPI:
    """uvicorn --factory entry point: bootstraps Baton from BATON_* settings."""
    from baton.bootstrap import ensure_bootstrapped
    from baton.logging import redact_access_log

    ensure_bootstrapped()
    redact_access_log()
    return create_app()
