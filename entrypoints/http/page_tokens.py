"""Short-lived tokens of the handoff page: who the scheduler is and which record the page is for.

A page token is issued when the page opens (after a verified Canvas signed request or a signed link) and
travels in the ``X-Baton-Page-Token`` request header of every call the page makes: no cookie, so it works
inside Salesforce's iframe where browsers block third-party cookies. A link token (``kind`` link, longer
lived) opens the page outside Salesforce. Format: ``base64url(json).base64url(HMAC-SHA256)`` keyed with
``BATON_PAGE_TOKEN_SECRET``; the claims say their kind and expiry, so a link is never a page token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

from fastapi import HTTPException, Request

from baton.runtime import Runtime
from baton.settings import Settings
from entrypoints.http.dependencies import RuntimeDep
from entrypoints.http.failures import count_failure, refuse_blocked

HEADER = "X-Baton-Page-Token"
TokenKind = Literal["page", "link"]


class TokenRejected(Exception):
    """Malformed, tampered with, of the wrong kind, or expired."""


@dataclass(frozen=True)
class PageClaims:
    scheduler_id: str
    scheduler_name: str
    object_type: str
    record_id: str
    time_zone: str = "UTC"
    scheduler_email: str = ""
    record_fields: dict[str, Any] = field(default_factory=dict)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise TokenRejected("not Base64") from None


def _mac(body: str, secret: str) -> bytes:
    return hmac.new(secret.encode(), b"baton-page-token." + body.encode("ascii"), hashlib.sha256).digest()


def issue(claims: PageClaims, secret: str, kind: TokenKind, expires_at: datetime) -> str:
    body = _b64(json.dumps({"kind": kind, "exp": int(expires_at.timestamp()), **asdict(claims)},
                           separators=(",", ":")).encode())
    return f"{body}.{_b64(_mac(body, secret))}"


def read(token: str, secret: str, kind: TokenKind, now: datetime) -> PageClaims:
    """The claims of a valid, unexpired token of ``kind``; TokenRejected otherwise."""
    if not token.isascii():
        raise TokenRejected("not ASCII: a page or link token is Base64 text")
    body, dot, mac = token.strip().partition(".")
    if not dot or not secret:
        raise TokenRejected("not a page token")
    if not hmac.compare_digest(_unb64(mac), _mac(body, secret)):
        raise TokenRejected("signature does not match")
    try:
        payload = json.loads(_unb64(body))
        if payload.pop("kind") != kind:
            raise TokenRejected(f"not a {kind} token")
        expires = datetime.fromtimestamp(int(payload.pop("exp")), UTC)
        claims = PageClaims(**payload)
    except (KeyError, TypeError, ValueError, RecursionError):
        raise TokenRejected("malformed claims") from None
    if now >= expires:
        raise TokenRejected(f"expired at {expires.isoformat()}")
    return claims


def page_token_for(claims: PageClaims, settings: Settings, now: datetime) -> str:
    if not settings.page_token_secret:
        raise ValueError("BATON_PAGE_TOKEN_SECRET is not set")
    return issue(claims, settings.page_token_secret, "page", now + timedelta(seconds=settings.page_token_ttl_s))


def link_token_for(claims: PageClaims, settings: Settings, now: datetime, ttl: timedelta | None = None) -> str:
    """A signed link's token (``baton handoff-link``): opens the page outside Salesforce until it expires."""
    if not settings.page_token_secret:
        raise ValueError("BATON_PAGE_TOKEN_SECRET is not set")
    return issue(claims, settings.page_token_secret, "link",
                 now + (ttl or timedelta(seconds=settings.handoff_link_ttl_s)))


def link_url(claims: PageClaims, settings: Settings, now: datetime, ttl: timedelta | None = None) -> str:
    return f"{settings.public_url.rstrip('/')}/handoff?link={quote(link_token_for(claims, settings, now, ttl))}"


def page_session(request: Request, runtime: RuntimeDep) -> tuple[Runtime, PageClaims]:
    """A FastAPI dependency: the runtime and the claims of the request's page token (401 without a valid
    one, 404 when the page is off, 429 for an address over its failed authentications)."""
    secret = runtime.settings.page_token_secret
    if not secret:
        raise HTTPException(404, "the handoff page is off: BATON_PAGE_TOKEN_SECRET is not set")
    refuse_blocked(request, runtime)  # 429 for an address that made too many failed authentications
    try:
        return runtime, read(request.headers.get(HEADER, ""), secret, "page", runtime.ports.clock())
    except TokenRejected as exc:
        count_failure(request, runtime, request.headers.get(HEADER, ""))
        raise HTTPException(401, f"page token refused: {exc}") from None
