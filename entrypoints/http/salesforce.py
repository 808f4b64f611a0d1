"""What Salesforce sends in: outbound messages (SOAP) and relayed change/platform events (JSON), each answered
only after the broker confirmed the enqueue. The body is read on the event loop; parsing, Salesforce re-reads and
the publish run in the thread pool, so a broker or Salesforce that hangs holds one thread, never the loop.
(No postponed annotations: FastAPI reads the endpoints' signatures.)"""

import hmac
from datetime import datetime

import structlog
from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from adapters.salesforce.change_events import Intake, parse_posted
from adapters.salesforce.outbound import ACK, OutboundMessage, parse_outbound_message, to_events
from adapters.salesforce.rereads import record_events
from baton.runtime import Runtime
from baton.assignment.reassign.reject import field_rejections
from baton.salesforce.ingest import enqueue
from entrypoints.http.auth import EVENTS_WRITE, requires
from entrypoints.http.body import (
    JSON_CONTENT_TYPE,
    Refused,
    json_objects,
    openapi_body,
    parse_json,
    read_typed_body,
)
from entrypoints.http.dependencies import ReadersDep, RuntimeDep
from entrypoints.http.failures import failed, guard
from entrypoints.http.readers import SalesforceReaders
from kernel.errors import ConfigError, InputError, PermanentError, SessionInvalid, TransientError
from messages import RecordEvent
from routing.config import OrgConfig

log = structlog.get_logger(__name__)
router = APIRouter()
SOAP_CONTENT_TYPES = ("text/xml", "application/soap+xml")
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


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


@router.post("/salesforce/outbound/{token}", response_class=Response,
             openapi_extra=openapi_body("text/xml", {"type": "string", "description": "SOAP notifications"}))
async def outbound_message(token: str, request: Request, runtime: RuntimeDep) -> Response:
    """Salesforce outbound message (SOAP, up to 100 notifications); answered with Ack true once enqueued."""
    settings = runtime.settings
    known = bool(settings.outbound_token) and hmac.compare_digest(token.encode(), (settings.outbound_token or "").encode())
    await guard(request, runtime, store_optional=known)  # 429 for an address over its failed authentications
    if not known:
        await failed(request, runtime, token)
        return _soap_fault(404, "unknown endpoint")
    try:
        body = await read_typed_body(request, SOAP_CONTENT_TYPES, settings.max_request_bytes)
    except Refused as exc:
        return _soap_fault(exc.status, exc.message)
    return await run_in_threadpool(_accept_outbound, body, runtime)


def _accept_outbound(body: bytes, runtime: Runtime) -> Response:
    """Parses the notifications and publishes them (off the event loop: the publish waits for the broker)."""
    try:
        message, events = _outbound_events(body, runtime)
    except Refused as exc:
        return _soap_fault(exc.status, exc.message)
    try:
        enqueue(runtime.broker, events, len(events), runtime.ports.clock())
    except Exception as exc:  # Salesforce retries anything but an Ack: nothing is lost
        log.error("outbound_enqueue_failed", error=str(exc), notifications=len(events))
        return _soap_fault(503, "could not enqueue; retry later")
    log.info("outbound_accepted", org=message.organization_id, notifications=len(events))
    return Response(ACK, media_type="text/xml")


def _outbound_events(body: bytes, runtime: Runtime) -> tuple[OutboundMessage, list[RecordEvent]]:
    settings = runtime.settings
    try:
        message = parse_outbound_message(body)
        events = to_events(message, runtime.ports.clock(), settings.salesforce_user_id)
    except InputError as exc:
        log.warning("outbound_rejected", reason=str(exc))
        raise Refused(400, str(exc)) from None
    if message.organization_id[:15] not in settings.allowed_org_ids:
        log.warning("outbound_rejected", reason="organization not allowed", org=message.organization_id)
        raise Refused(403, f"organization {message.organization_id} is not allowed")
    return message, events


@router.post("/salesforce/events", status_code=202, dependencies=[Depends(requires(EVENTS_WRITE))],
             openapi_extra=openapi_body(JSON_CONTENT_TYPE, json_objects(MAX_POSTED_EVENTS)))
async def change_events(request: Request, runtime: RuntimeDep, readers: ReadersDep) -> JSONResponse:
    """Change and platform events relayed as JSON (one Bayeux event message or its ``data``, or a
    list of them); 202 once the broker confirmed the enqueue, 503 when it did not."""
    try:
        body = await read_typed_body(request, (JSON_CONTENT_TYPE,), runtime.settings.max_request_bytes)
    except Refused as exc:
        return _problem(exc.status, exc.message)
    return await run_in_threadpool(_accept_events, body, runtime, readers)


def _accept_events(body: bytes, runtime: Runtime, readers: SalesforceReaders) -> JSONResponse:
    """Reads the events (Salesforce re-reads included) and publishes them, off the event loop."""
    try:
        posted = parse_json(body)
        now = runtime.ports.clock()
        intake, events = _posted_events(posted, now, runtime, readers)
    except Refused as exc:
        return _problem(exc.status, exc.message)
    try:
        if events:
            events = field_rejections(events, _config(runtime), runtime.ports.store.decisions, now)
            enqueue(runtime.broker, events, len(events), now)
    except Exception as exc:  # the relay retries anything but a 202: nothing is lost
        log.error("change_events_enqueue_failed", error=str(exc), events=len(events))
        return _problem(503, "could not enqueue; retry later")
    log.info("change_events_accepted", events=len(events), ignored=len(intake.ignored))
    return JSONResponse({"accepted": len(events), "ignored": len(intake.ignored)}, status_code=202)


def _config(runtime: Runtime) -> OrgConfig | None:
    try:
        return runtime.ports.configs.current()[1]
    except PermanentError:
        return None


def _posted_events(posted: object, now: datetime, runtime: Runtime, readers: SalesforceReaders
                   ) -> tuple[Intake, list[RecordEvent]]:
    """The events the posted messages stand for, records named by gap and platform events read again."""
    settings = runtime.settings
    try:
        intake = parse_posted(posted, now, MAX_POSTED_EVENTS)
        reader = readers.get(settings, runtime.ports.store.describes) if intake.rereads else None
        return intake, record_events(intake, reader, now, settings.salesforce_user_id,
                                     written=runtime.ports.configs.fields_baton_writes())
    except (ConfigError, SessionInvalid, TransientError) as exc:
        if isinstance(exc, SessionInvalid):
            readers.forget()
        log.error("change_events_unreadable", error=str(exc))
        raise Refused(503, f"cannot read the named records from Salesforce now: {exc}") from None
    except PermanentError as exc:  # InputError included: the event itself is wrong
        log.warning("change_events_rejected", reason=str(exc))
        raise Refused(422, str(exc)) from None
