"""The web process: Salesforce outbound messages in (Ack only after the broker confirmed the enqueue)."""

from __future__ import annotations

import hmac
from collections.abc import Callable

import structlog
from fastapi import FastAPI, Request, Response

from adapters.salesforce.outbound import ACK, parse_outbound_message, to_events
from baton import runtime
from baton.errors import InputError
from baton.ingest import enqueue

log = structlog.get_logger(__name__)
SOAP_CONTENT_TYPES = ("text/xml", "application/soap+xml")


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


def create_app(current: Callable[[], runtime.Runtime] = runtime.current) -> FastAPI:
    app = FastAPI(title="Baton", description="Salesforce record routing", version="0.1.0")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/salesforce/outbound/{token}", response_class=Response)
    async def outbound_message(token: str, request: Request) -> Response:
        """Salesforce outbound message (SOAP, up to 100 notifications); answered with Ack true once enqueued."""
        state = current()
        settings = state.settings
        if not settings.outbound_token or not hmac.compare_digest(token.encode(), settings.outbound_token.encode()):
            return _soap_fault(404, "unknown endpoint")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in SOAP_CONTENT_TYPES:
            return _soap_fault(415, f"expected text/xml, got {content_type or 'no content type'}")
        body = await request.body()
        if len(body) > settings.max_request_bytes:
            return _soap_fault(413, f"body of {len(body)} bytes is over the {settings.max_request_bytes} limit")
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

    return app


def create_app_from_env() -> FastAPI:
    """uvicorn --factory entry point: bootstraps Baton from BATON_* settings."""
    from baton.bootstrap import ensure_bootstrapped

    ensure_bootstrapped()
    return create_app()
