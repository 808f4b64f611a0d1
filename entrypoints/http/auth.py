"""Who may call the JSON endpoints: bearer tokens stored hashed, each with scopes, as one FastAPI dependency.

``requires(scope)`` gives a dependency that answers 401 (no, unknown, revoked or expired token), 403 (the
token lacks the scope) or, with ``rate_limited``, 429 with Retry-After once the token used up its requests
of the minute; otherwise it returns the ``Caller``. The single tokens of older settings
(``BATON_EVENTS_TOKEN``, ``BATON_BOOKING_TOKEN``) still work, each with the scopes of the endpoints it opened;
``BATON_METRICS_TOKEN`` (scope ``metrics:read``) is checked without the database, so scrapes go on while it is down.
An address that sent ``BATON_AUTH_FAILURES_PER_MINUTE`` bad tokens this minute gets 429 before its token is
looked at (``entrypoints.http.failures``).
(No postponed annotations: FastAPI reads the dependency's signature.)
"""

import hmac
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from baton.runtime import Runtime
from baton.settings import Settings
from entrypoints.http.dependencies import RuntimeDep
from entrypoints.http.failures import count_failure, guard
from kernel.errors import TransientError

log = structlog.get_logger(__name__)

EVENTS_WRITE = "events:write"
BOOKINGS_READ = "bookings:read"
BOOKINGS_WRITE = "bookings:write"
METRICS_READ = "metrics:read"
RECORDS_WRITE = "records:write"
MEMBERS_READ = "members:read"
MEMBERS_WRITE = "members:write"
RECORDS_PULL = "records:pull"
RECORDS_REJECT = "records:reject"
SCOPES = {
    EVENTS_WRITE: "POST /salesforce/events (relayed change and platform events)",
    BOOKINGS_READ: "GET /availability, GET /bookings/{id}",
    BOOKINGS_WRITE: "POST /bookings, /bookings/meet-now, /bookings/events",
    METRICS_READ: "GET /metrics",
    RECORDS_WRITE: "POST /records/{object}/{id}/reassign (route one record again)",
    MEMBERS_READ: "GET /v1/audit (the admin audit)",
    MEMBERS_WRITE: "/v1/members/{user_id}/availability, /out-of-office, /tags; /v1/teams/{team}/members "
                   "(availability, out of office, tags, team members)",
    RECORDS_PULL: "POST /v1/teams/{team}/pull (a member takes the next record of a pull team's queue; a token "
                  "pinned to a user pulls only for that user)",
    RECORDS_REJECT: "POST /v1/records/{object}/{id}/reject (the record's owner rejects it: routed again without "
                    "them; a token pinned to a user rejects only as that user)",
}
LEGACY_EVENTS = "legacy-events-token"
LEGACY_BOOKING = "legacy-booking-token"
METRICS_SETTING = "metrics-token"

bearer = HTTPBearer(auto_error=False, description="a token from `baton tokens create`")


@dataclass(frozen=True)
class Caller:
    """The holder of a valid token: its id (never the token), scopes and the scheduler it books as."""

    token_id: str
    name: str
    scopes: frozenset[str]
    scheduler_user_id: str | None = None
    rate_per_minute: int | None = None


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, {"WWW-Authenticate": "Bearer"})


def _from_settings(token: str, settings: Settings) -> Caller | None:
    for secret, token_id, scopes in (
        (settings.events_token, LEGACY_EVENTS, {EVENTS_WRITE}),
        (settings.booking_token, LEGACY_BOOKING, {BOOKINGS_READ, BOOKINGS_WRITE}),
        (settings.metrics_token, METRICS_SETTING, {METRICS_READ}),
    ):
        if secret and hmac.compare_digest(token.encode(), secret.encode()):
            return Caller(token_id, token_id, frozenset(scopes))
    return None


def identify(token: str, state: Runtime) -> Caller:
    """The caller a bearer token stands for; raises the 401 (or a 503 when the store is down)."""
    configured = _from_settings(token, state.settings)
    if configured is not None:
        return configured
    try:
        stored = state.ports.store.tokens.find(token)
    except TransientError as exc:
        raise HTTPException(503, f"cannot check the token now: {exc}") from None
    if stored is None:
        raise _unauthorized("unknown bearer token")
    if not stored.usable(state.ports.clock()):
        raise _unauthorized(f"token {stored.id} is {'revoked' if stored.revoked_at else 'expired'}")
    return Caller(stored.id, stored.name, frozenset(stored.scopes), stored.scheduler_user_id,
                  stored.rate_per_minute)


def _identify_counting(token: str, request: Request, state: Runtime) -> Caller:
    """``identify``, counting a refused token as a failed authentication of the request's address."""
    try:
        return identify(token, state)
    except HTTPException as exc:
        if exc.status_code == 401:
            count_failure(request, state, token)
        raise


def _check_rate(caller: Caller, state: Runtime) -> None:
    limit = caller.rate_per_minute or state.settings.booking_rate_per_minute
    try:
        wait_s = state.ports.store.tokens.hit(caller.token_id, state.ports.clock(), limit)
    except TransientError as exc:
        raise HTTPException(503, f"cannot check the rate limit now: {exc}") from None
    if wait_s is not None:
        log.warning("rate_limited", token_id=caller.token_id, limit_per_minute=limit)
        raise HTTPException(429, f"token {caller.token_id} is over {limit} requests a minute",
                            {"Retry-After": str(max(1, math.ceil(wait_s)))})


def requires(scope: str | None, rate_limited: bool = False) -> Callable[..., Awaitable[Caller]]:
    """A FastAPI dependency admitting callers whose token has ``scope`` (``None``: any valid token)."""
    assert scope is None or scope in SCOPES, scope

    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        runtime: RuntimeDep,
    ) -> Caller:
        token = credentials.credentials.strip() if credentials is not None else ""
        await guard(request, runtime, store_optional=bool(token) and _from_settings(token, runtime.settings) is not None)
        if not token:
            raise _unauthorized("missing bearer token (Authorization: Bearer <token>)")
        caller = await run_in_threadpool(_identify_counting, token, request, runtime)
        if scope is not None and scope not in caller.scopes:
            raise HTTPException(403, f"token {caller.token_id} lacks the scope {scope}",
                                {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'})
        if rate_limited:
            await run_in_threadpool(_check_rate, caller, runtime)
        return caller

    return dependency
