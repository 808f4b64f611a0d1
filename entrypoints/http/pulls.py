"""``POST /v1/teams/{team}/pull`` (scope ``records:pull``): a member of a pull team takes the next record waiting in
the team's queue (``baton.assignment.pull``).

The body is ``{"member_id": "005..."}``; a token pinned to a user (its ``scheduler_user_id``) pulls only for that
user. 200 with ``{"pulled": true, "record": {...}}``, or ``{"pulled": false, "reason": "none: ..."}`` when the
queue holds nothing the member may take; 404 for an unknown team; 403 for another user's pull; 422 for a member
who is not on the team or a bad body; 503 when the store is away (nothing was pulled: pull again).
(No postponed annotations: FastAPI reads the endpoint's signature.)
"""

from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import Field, ValidationError

from baton.assignment.ports import AssignmentPorts
from baton.assignment.pull import PullRefused, UnknownTeam, pull
from entrypoints.http.auth import RECORDS_PULL, Caller, requires
from entrypoints.http.body import JSON_CONTENT_TYPE, invalid, openapi_body, read_json
from entrypoints.http.booking_answers import same_user
from entrypoints.http.dependencies import RuntimeDep
from kernel.errors import TransientError
from messages.base import Contract

log = structlog.get_logger(__name__)
router = APIRouter()


class PullBody(Contract):
    member_id: str = Field(min_length=15, max_length=18, description="the Salesforce user id of the member pulling")


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


@router.post("/v1/teams/{team}/pull", openapi_extra=openapi_body(JSON_CONTENT_TYPE, PullBody.model_json_schema()))
async def pull_record(team: str, http_request: Request, caller: Annotated[Caller, Depends(requires(RECORDS_PULL))],
                      runtime: RuntimeDep) -> JSONResponse:
    """Assigns the member the highest-priority record of the team's queue they may take, if any."""
    try:
        body = PullBody.model_validate(await read_json(http_request, runtime.settings.max_request_bytes))
    except ValidationError as exc:
        return invalid(exc)
    if caller.scheduler_user_id is not None and not same_user(caller.scheduler_user_id, body.member_id):
        return _problem(403, f"token {caller.token_id} pulls only for user {caller.scheduler_user_id}")
    try:
        pulled = await run_in_threadpool(pull, team, body.member_id, AssignmentPorts.of(runtime.ports))
    except UnknownTeam as exc:
        return _problem(404, str(exc))
    except PullRefused as exc:
        return _problem(422, str(exc))
    except TransientError as exc:
        return _problem(503, f"nothing pulled, pull again: {exc}")
    if pulled.log is None:
        return JSONResponse({"pulled": False, "reason": pulled.reason})
    record = pulled.log
    log.info("record_pulled", team=team, member_id=body.member_id, record_id=record.record_id,
             routing_id=record.routing_id, token_id=caller.token_id)
    return JSONResponse({"pulled": True, "reason": pulled.reason, "record": {
        "routing_id": record.routing_id, "object_type": record.object_type, "record_id": record.record_id,
        "owner_id": record.owner_id, "team": record.team}})
