"""``POST /records/{object}/{id}/reassign`` (scope ``records:write``): route one record again through the graph.

The body is ``{"reason": "...", "request_id": "..."}``; the request id (or the ``Idempotency-Key`` header)
makes a repeated request route the record once. 202 with the routing id once the broker took the event;
404 when Salesforce has no such record; 422 for a bad object, id or reason; 503 when Salesforce or the
broker is away (nothing was routed: retry with the same request id).
(No postponed annotations: FastAPI reads the endpoint's signature.)
"""

from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import Field, ValidationError

from baton.assignment.reassign.single import (
    REASON_MAX_CHARS,
    ReassignRequest,
    RecordNotFound,
    new_request,
    reassign_record,
)
from baton.assignment.reassign.reject import RejectRefused, RejectRequest, new_rejection, reject_record
from baton.runtime import Runtime
from entrypoints.http.auth import RECORDS_REJECT, RECORDS_WRITE, Caller, requires
from entrypoints.http.body import JSON_CONTENT_TYPE, invalid, openapi_body, read_json
from entrypoints.http.booking_answers import same_user
from entrypoints.http.dependencies import ReadersDep, RuntimeDep
from entrypoints.http.readers import SalesforceReaders
from kernel.errors import InputError, SessionInvalid, TransientError
from messages.base import Contract

log = structlog.get_logger(__name__)
router = APIRouter()


class ReassignBody(Contract):
    reason: str = Field(min_length=1, max_length=REASON_MAX_CHARS, description="why (logged, shown by `baton why`)")
    request_id: str | None = Field(default=None, max_length=200, description="repeat a request with its id")


class RejectBody(Contract):
    member_id: str = Field(min_length=15, max_length=18, description="the Salesforce user id of the owner rejecting")
    reason: str = Field(min_length=1, max_length=REASON_MAX_CHARS, description="why (kept, shown by `baton why`)")
    request_id: str | None = Field(default=None, max_length=200, description="names the request in the routing id")


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


@router.post("/records/{object_type}/{record_id}/reassign", status_code=202,
             openapi_extra=openapi_body(JSON_CONTENT_TYPE, ReassignBody.model_json_schema()))
async def reassign(object_type: str, record_id: str, http_request: Request,
                   caller: Annotated[Caller, Depends(requires(RECORDS_WRITE))], runtime: RuntimeDep,
                   readers: ReadersDep, idempotency_key: Annotated[str | None, Header()] = None) -> JSONResponse:
    """Reads the record from Salesforce and routes it again as a REASSIGN; the previous owner is credited
    back and the reason logged."""
    try:
        body = ReassignBody.model_validate(await read_json(http_request, runtime.settings.max_request_bytes))
    except ValidationError as exc:
        return invalid(exc)
    try:
        request = new_request(object_type, record_id, body.reason, body.request_id or idempotency_key)
    except InputError as exc:
        return _problem(422, str(exc))
    answer = await _route_again(request, runtime, readers)
    if isinstance(answer, JSONResponse):
        return answer
    log.info("record_reassign_requested", record_id=record_id, object_type=object_type, routing_id=answer,
             token_id=caller.token_id, reason=request.reason)
    return JSONResponse({"routing_id": answer, "request_id": request.request_id}, status_code=202)


async def _route_again(request: ReassignRequest, runtime: Runtime, readers: SalesforceReaders) -> str | JSONResponse:
    """The routing id of the REASSIGN event sent, or the refusal saying why none was."""
    try:
        records = await run_in_threadpool(readers.get, runtime.settings, runtime.ports.store.describes)
        if records is None:
            return _problem(503, "no Salesforce connection configured: the record cannot be read")
        return await run_in_threadpool(reassign_record, request, records, runtime.broker, runtime.ports.clock())
    except RecordNotFound as exc:
        return _problem(404, str(exc))
    except SessionInvalid as exc:
        readers.forget()
        return _problem(503, f"cannot read the record from Salesforce now: {exc}")
    except TransientError as exc:
        return _problem(503, f"cannot read the record from Salesforce now: {exc}")
    except InputError as exc:
        return _problem(422, str(exc))
    except Exception as exc:  # noqa: BLE001 (the broker refused: the caller retries, nothing routed)
        log.error("record_reassign_failed", error=str(exc), record_id=request.record_id)
        return _problem(503, "could not enqueue; retry later")


@router.post("/v1/records/{object_type}/{record_id}/reject", status_code=202,
             openapi_extra=openapi_body(JSON_CONTENT_TYPE, RejectBody.model_json_schema()))
async def reject(object_type: str, record_id: str, http_request: Request,
                 caller: Annotated[Caller, Depends(requires(RECORDS_REJECT))], runtime: RuntimeDep,
                 readers: ReadersDep) -> JSONResponse:
    """The record's owner rejects it: routed again without them (never back to them this period), the reason kept.
    409 when the member is not its owner or is over the team's daily rejection limit (the record stays theirs)."""
    try:
        body = RejectBody.model_validate(await read_json(http_request, runtime.settings.max_request_bytes))
    except ValidationError as exc:
        return invalid(exc)
    if caller.scheduler_user_id is not None and not same_user(caller.scheduler_user_id, body.member_id):
        return _problem(403, f"token {caller.token_id} rejects only as user {caller.scheduler_user_id}")
    try:
        request = new_rejection(object_type, record_id, body.member_id, body.reason, body.request_id)
    except InputError as exc:
        return _problem(422, str(exc))
    answer = await _reject(request, runtime, readers)
    if isinstance(answer, JSONResponse):
        return answer
    log.info("record_rejected", record_id=record_id, object_type=object_type, routing_id=answer,
             member_id=body.member_id, token_id=caller.token_id, reason=request.reassign.reason)
    return JSONResponse({"routing_id": answer, "request_id": request.reassign.request_id}, status_code=202)


async def _reject(request: RejectRequest, runtime: Runtime, readers: SalesforceReaders) -> str | JSONResponse:
    try:
        records = await run_in_threadpool(readers.get, runtime.settings, runtime.ports.store.describes)
        if records is None:
            return _problem(503, "no Salesforce connection configured: the record cannot be read")
        return await run_in_threadpool(reject_record, request, records, runtime.broker, runtime.ports.store.decisions,
                                       runtime.ports.configs, runtime.ports.clock())
    except RecordNotFound as exc:
        return _problem(404, str(exc))
    except RejectRefused as exc:
        return _problem(409, str(exc))
    except SessionInvalid as exc:
        readers.forget()
        return _problem(503, f"cannot read the record from Salesforce now: {exc}")
    except TransientError as exc:
        return _problem(503, f"cannot reject now: {exc}")
    except InputError as exc:
        return _problem(422, str(exc))
    except Exception as exc:  # noqa: BLE001 (the broker refused: the caller retries)
        log.error("record_reject_failed", error=str(exc), record_id=request.reassign.record_id)
        return _problem(503, "could not enqueue; retry later")
