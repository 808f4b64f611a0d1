"""The admin API (issue 22), after Distribution Engine's Availability, Out of Office, Team Members and Tags APIs:

- ``POST /v1/members/{user_id}/availability`` ``{"available": false, "reason": "logged out"}``
- ``PUT /v1/members/{user_id}/out-of-office`` ``{"start", "end", "reason"}``; ``DELETE`` clears it
- ``PUT /v1/members/{user_id}/tags`` ``{"tags": [...]}`` (the member's skills, in every team listing them)
- ``POST /v1/teams/{team}/members`` (a member as the org config has one: id, name, weight, skills, caps, ...),
  ``PATCH /v1/teams/{team}/members/{user_id}`` (the keys to change), ``DELETE`` (remove)
- ``GET /v1/audit?member=...&limit=...`` (scope ``members:read``): every change, newest first

Changes need ``members:write``; each answers the audit entry it made (who, what, before and after, when, the
config version it made). 404 names an unknown member or team; 409 when no config is applied or the member is
already in the team; 422 names the field that is wrong.
(No postponed annotations: FastAPI reads the endpoint's signature.)
"""

import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import structlog
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, Field, ValidationError, model_validator

from baton.members.admin import Actor, InvalidChange, MemberAdmin, MemberExists, NoConfig, NotFound
from baton.members.edits import MEMBER_FIELDS
from baton.runtime import Runtime
from entrypoints.http.auth import MEMBERS_READ, MEMBERS_WRITE, Caller, requires
from entrypoints.http.body import JSON_CONTENT_TYPE, inline_schema, invalid, openapi_body, read_json
from entrypoints.http.dependencies import RuntimeDep
from kernel.errors import TransientError
from kernel.ports.audit import AuditEntry
from messages.base import Contract
from routing.teams import Member

log = structlog.get_logger(__name__)
router = APIRouter()
Writer = Annotated[Caller, Depends(requires(MEMBERS_WRITE))]
Reader = Annotated[Caller, Depends(requires(MEMBERS_READ))]
REASON = Field(default="", max_length=500, description="why (kept in the audit, shown by `baton why`)")
MAX_TAGS = 100
BodyT = TypeVar("BodyT", bound=Contract)


class AvailabilityBody(Contract):
    available: bool
    reason: str = REASON


class OutOfOfficeBody(Contract):
    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field(default="out of office", min_length=1, max_length=500)

    @model_validator(mode="after")
    def _ordered(self) -> "OutOfOfficeBody":
        if self.end <= self.start:
            raise ValueError(f"end {self.end.isoformat()} is not after start {self.start.isoformat()}")
        return self


class TagsBody(Contract):
    tags: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(max_length=MAX_TAGS)
    reason: str = REASON


def _member_changes_schema() -> dict[str, Any]:
    schema = inline_schema(Member.model_json_schema())
    schema["properties"].pop("id")
    schema.pop("required", None)
    schema["additionalProperties"] = False
    schema["minProperties"] = 1
    return schema


def _caller(caller: Caller) -> Actor:
    return Actor(caller.token_id, caller.name)


def _problem(status: int, detail: Any) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _member_key(path: str) -> list[str]:
    """``teams[0].members[2].caps.per_day`` -> ``["body", "caps", "per_day"]``; another path as it is."""
    found = re.search(r"members\[\d+\]\.(.+)$", path)
    return ["body", *found.group(1).split(".")] if found else [path]


def entry_view(entry: AuditEntry) -> dict[str, Any]:
    return {"id": entry.id, "at": entry.at.isoformat(), "by": {"id": entry.actor.id, "name": entry.actor.name},
            "action": entry.action, "member_id": entry.member_id, "team": entry.team, "reason": entry.reason,
            "before": entry.before, "after": entry.after, "config_version": entry.config_version}


async def _run(runtime: Runtime, change: Callable[[MemberAdmin], AuditEntry], status: int = 200) -> JSONResponse:
    """The change made through the member administration, answered with its audit entry or the refusal."""
    try:
        entry = await run_in_threadpool(change, MemberAdmin.of(runtime.ports))
    except NotFound as exc:
        return _problem(404, str(exc))
    except (NoConfig, MemberExists) as exc:
        return _problem(409, str(exc))
    except InvalidChange as exc:
        return _problem(422, [{"loc": _member_key(path), "msg": message, "config_path": path}
                              for path, message in exc.problems])
    except TransientError as exc:
        return _problem(503, f"cannot change the member now: {exc}")
    log.info("member_changed", action=entry.action, member_id=entry.member_id, team=entry.team,
             token_id=entry.actor.id, audit_id=entry.id)
    return JSONResponse(entry_view(entry), status_code=status)


async def _body(request: Request, runtime: Runtime) -> Any:
    return await read_json(request, runtime.settings.max_request_bytes)


async def _parsed(model: type[BodyT], request: Request, runtime: Runtime) -> BodyT | JSONResponse:
    """The body as ``model``, or the 422 naming each field that is wrong."""
    try:
        return model.model_validate(await _body(request, runtime))
    except ValidationError as exc:
        return invalid(exc)


@router.post("/v1/members/{user_id}/availability",
             openapi_extra=openapi_body(JSON_CONTENT_TYPE, AvailabilityBody.model_json_schema()))
async def set_availability(user_id: str, request: Request, caller: Writer, runtime: RuntimeDep) -> JSONResponse:
    """Toggles the member in or out of routing (``reason``: the logout reason); in force for the next record."""
    body = await _parsed(AvailabilityBody, request, runtime)
    if isinstance(body, JSONResponse):
        return body
    return await _run(runtime, lambda admin: admin.set_available(_caller(caller), user_id, body.available,
                                                                 body.reason))


@router.put("/v1/members/{user_id}/out-of-office",
            openapi_extra=openapi_body(JSON_CONTENT_TYPE, OutOfOfficeBody.model_json_schema()))
async def set_out_of_office(user_id: str, request: Request, caller: Writer, runtime: RuntimeDep) -> JSONResponse:
    """The member is out of office from ``start`` to ``end`` (replacing the periods the config had)."""
    body = await _parsed(OutOfOfficeBody, request, runtime)
    if isinstance(body, JSONResponse):
        return body
    return await _run(runtime, lambda admin: admin.set_out_of_office(_caller(caller), user_id, body.start,
                                                                     body.end, body.reason))


@router.delete("/v1/members/{user_id}/out-of-office")
async def clear_out_of_office(user_id: str, caller: Writer, runtime: RuntimeDep) -> JSONResponse:
    """The member is back: no out-of-office period left."""
    return await _run(runtime, lambda admin: admin.clear_out_of_office(_caller(caller), user_id))


@router.put("/v1/members/{user_id}/tags", openapi_extra=openapi_body(JSON_CONTENT_TYPE, TagsBody.model_json_schema()))
async def set_tags(user_id: str, request: Request, caller: Writer, runtime: RuntimeDep) -> JSONResponse:
    """The member's skill tags (``skills`` in every team listing them)."""
    body = await _parsed(TagsBody, request, runtime)
    if isinstance(body, JSONResponse):
        return body
    return await _run(runtime, lambda admin: admin.set_tags(_caller(caller), user_id, body.tags, body.reason))


@router.post("/v1/teams/{team}/members", status_code=201,
             openapi_extra=openapi_body(JSON_CONTENT_TYPE, inline_schema(Member.model_json_schema())))
async def add_team_member(team: str, request: Request, caller: Writer, runtime: RuntimeDep) -> JSONResponse:
    """Adds a member (the config's member keys: id, name, weight, skills, caps, ...) to the team."""
    raw = await _body(request, runtime)
    try:
        Member.model_validate(raw)
    except ValidationError as exc:
        return invalid(exc)
    return await _run(runtime, lambda admin: admin.add_member(_caller(caller), team, raw), 201)


@router.patch("/v1/teams/{team}/members/{user_id}",
              openapi_extra=openapi_body(JSON_CONTENT_TYPE, _member_changes_schema()))
async def change_team_member(team: str, user_id: str, request: Request, caller: Writer,
                             runtime: RuntimeDep) -> JSONResponse:
    """Changes the member's keys given (weight, skills, caps, ...; null: back to the default)."""
    raw = await _body(request, runtime)
    if not isinstance(raw, dict) or not raw:
        return _problem(422, [{"loc": ["body"], "msg": "give an object of the member keys to change"}])
    unknown = sorted(set(raw) - set(MEMBER_FIELDS))
    if unknown:
        return _problem(422, [{"loc": ["body", key], "msg": f"not a member key that can be changed (use "
                                                           f"{', '.join(MEMBER_FIELDS)})"} for key in unknown])
    try:
        Member.model_validate({"id": user_id, **{key: value for key, value in raw.items() if value is not None}})
    except ValidationError as exc:
        return invalid(exc)
    return await _run(runtime, lambda admin: admin.change_member(_caller(caller), team, user_id, raw))


@router.delete("/v1/teams/{team}/members/{user_id}")
async def remove_team_member(team: str, user_id: str, caller: Writer, runtime: RuntimeDep) -> JSONResponse:
    """Takes the member out of the team."""
    return await _run(runtime, lambda admin: admin.remove_member(_caller(caller), team, user_id))


@router.get("/v1/audit")
def audit(caller: Reader, runtime: RuntimeDep,
          member: Annotated[str | None, Query(max_length=120, description="one member's changes")] = None,
          limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> JSONResponse:
    """Every admin change, newest first (of one member with ``member``)."""
    try:
        entries = runtime.ports.store.audit.entries(member, limit)
    except TransientError as exc:
        return _problem(503, f"cannot read the audit now: {exc}")
    return JSONResponse({"entries": [entry_view(entry) for entry in entries]})
