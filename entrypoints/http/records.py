"""``POST /records/{object}/{id}/reassign`` (scope ``records:write``): route one record again through the graph.

The body is ``{"reason": "...", "request_id": "..."}``; the request id (or the ``Idempotency-Key`` header)
makes a repeated request route the record once. 202 with the routing id once the broker took the event;
404 when Salesforce has no such record; 422 for a bad object, id or reason; 503 when Salesforce or the
broker is away (nothing was routed: retry with the same request id).
(No postponed annotations: FastAPI reads the endpoint's signature.)
"""

from collections.abc import Callable
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Header
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import Field

from adapters.salesforce.rereads import RecordReader
from baton import runtime
from baton.errors import InputError, SessionInvalid, TransientError
from baton.reassign.single import REASON_MAX_CHARS, RecordNotFound, new_request, reassign_record
from entrypoints.http.auth import RECORDS_WRITE, Caller, requires
from messages.base import Contract

log = structlog.get_logger(__name__)


class ReassignBody(Contract):
    reason: str = Field(min_length=1, max_length=REASON_MAX_CHARS, description="why (logged, shown by `baton why`)")
    request_id: str | None = Field(default=None, max_length=200, description="repeat a request with its id")


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def records_router(current: Callable[[], runtime.Runtime], reader: Callable[[], RecordReader | None],
                   forget_reader: Callable[[], None]) -> APIRouter:
    router = APIRouter()

    @router.post("/records/{object_type}/{record_id}/reassign", status_code=202)
    async def reassign(object_type: str, record_id: str, body: ReassignBody,
                       caller: Annotated[Caller, Depends(requires(RECORDS_WRITE, current))],
                       idempotency_key: Annotated[str | None, Header()] = None) -> JSONResponse:
        """Reads the record from Salesforce and routes it again as a REASSIGN; the previous owner is credited
        back and the reason logged."""
        state = current()
        try:
            request = new_request(object_type, record_id, body.reason, body.request_id or idempotency_key)
        except InputError as exc:
            return _problem(422, str(exc))
        try:
            records = await run_in_threadpool(reader)
            if records is None:
                return _problem(503, "no Salesforce connection configured: the record cannot be read")
            routing_id = await run_in_threadpool(reassign_record, request, records, state.broker, state.ports.clock())
        except RecordNotFound as exc:
            return _problem(404, str(exc))
        except SessionInvalid as exc:
            forget_reader()
            return _problem(503, f"cannot read the record from Salesforce now: {exc}")
        except TransientError as exc:
            return _problem(503, f"cannot read the record from Salesforce now: {exc}")
        except InputError as exc:
            return _problem(422, str(exc))
        except Exception as exc:  # noqa: BLE001 (the broker refused: the caller retries, nothing routed)
            log.error("record_reassign_failed", error=str(exc), record_id=record_id)
            return _problem(503, "could not enqueue; retry later")
        log.info("record_reassign_requested", record_id=record_id, object_type=object_type, routing_id=routing_id,
                 token_id=caller.token_id, reason=request.reason)
        return JSONResponse({"routing_id": routing_id, "request_id": request.request_id}, status_code=202)

    return router
