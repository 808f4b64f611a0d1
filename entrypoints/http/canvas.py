"""Salesforce Canvas signed requests: verify, then read the scheduler and the record.

Salesforce POSTs ``signed_request`` to the canvas app URL. Its form is ``SIG.ENVELOPE``: ENVELOPE is the
CanvasRequest JSON in Base64, SIG is the Base64 of HMAC-SHA256 over the ENVELOPE text, keyed with the
connected app's consumer secret. Anything that does not verify is a :class:`CanvasRejected` (the page
answers 401 with the reason, never the page). Pure apart from the clock passed in; ``sign_request`` builds one the way
Salesforce does (tests, ``baton demo``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

ALGORITHM = "HMACSHA256"
CLOCK_SKEW = timedelta(seconds=60)
MAX_SIGNED_REQUEST_BYTES = 64_000


class CanvasRejected(Exception):
    """The signed request is malformed, tampered with, signed with another secret, or stale."""


@dataclass(frozen=True)
class CanvasContext:
    """Who opened the page (the scheduler) and on which record."""

    user_id: str
    user_name: str
    email: str
    time_zone: str
    organization_id: str
    object_type: str
    record_id: str
    record_fields: dict[str, Any] = field(default_factory=dict)
    issued_at: datetime | None = None


def _b64decode(text: str) -> bytes:
    """Standard or URL-safe Base64, padding optional (Salesforce sends standard, padded)."""
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise CanvasRejected("not Base64") from None


def _signature(envelope: str, secret: str) -> bytes:
    return hmac.new(secret.encode(), envelope.encode("ascii"), hashlib.sha256).digest()


def sign_request(canvas_request: dict[str, Any], secret: str) -> str:
    """A signed request in Salesforce's format (what the Canvas framework POSTs)."""
    envelope = base64.b64encode(json.dumps(canvas_request).encode()).decode("ascii")
    return f"{base64.b64encode(_signature(envelope, secret)).decode('ascii')}.{envelope}"


def issued_at(value: Any) -> datetime | None:
    """``issuedAt`` as epoch seconds or milliseconds, or an ISO 8601 text; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise CanvasRejected("issuedAt is not a time")
    if isinstance(value, int | float):
        stamp = value / 1000 if value > 10**11 else value
        return datetime.fromtimestamp(stamp, UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise CanvasRejected("issuedAt is not a time") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise CanvasRejected("issuedAt is not a time")


def _text(mapping: Any, key: str) -> str:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    return value if isinstance(value, str) else ""


def _context(payload: dict[str, Any], stamp: datetime | None) -> CanvasContext:
    context = payload.get("context")
    if not isinstance(context, dict):
        raise CanvasRejected("no context")
    user = context.get("user") or {}
    environment = context.get("environment") or {}
    record = environment.get("record") if isinstance(environment, dict) else None
    user_id = _text(user, "userId") or _text(payload, "userId")
    if not user_id:
        raise CanvasRejected("no context user")
    if not isinstance(record, dict) or not _text(record, "Id"):
        raise CanvasRejected("not opened from a record (context.environment.record has no Id)")
    attributes = record.get("attributes") or {}
    object_type = _text(attributes, "type")
    if not object_type:
        raise CanvasRejected("the record has no attributes.type")
    fields = {key: value for key, value in record.items()
              if key not in ("attributes", "Id") and not isinstance(value, dict | list)}
    return CanvasContext(
        user_id=user_id, user_name=_text(user, "fullName") or _text(user, "userName") or user_id,
        email=_text(user, "email"), time_zone=_text(user, "timeZone") or "UTC",
        organization_id=_text(context.get("organization") or {}, "organizationId"),
        object_type=object_type, record_id=_text(record, "Id"), record_fields=fields, issued_at=stamp,
    )


def verify_signed_request(signed_request: str, secret: str, now: datetime,
                          max_age: timedelta | None) -> CanvasContext:
    """The verified context; CanvasRejected says why not. ``max_age`` None skips the age check (for orgs
    whose signed requests carry no ``issuedAt``); otherwise a request without one is refused as stale."""
    if not secret:
        raise CanvasRejected("no consumer secret configured")
    if len(signed_request) > MAX_SIGNED_REQUEST_BYTES:
        raise CanvasRejected("signed request too large")
    if not signed_request.isascii():
        raise CanvasRejected("not ASCII: a signed request is Base64 text")
    signature_text, dot, envelope = signed_request.strip().partition(".")
    if not dot or not signature_text or not envelope:
        raise CanvasRejected("not SIGNATURE.ENVELOPE")
    if not hmac.compare_digest(_b64decode(signature_text), _signature(envelope, secret)):
        raise CanvasRejected("signature does not match")
    try:
        payload = json.loads(_b64decode(envelope))
    except (ValueError, RecursionError):
        raise CanvasRejected("envelope is not JSON (or nested too deeply)") from None
    if not isinstance(payload, dict) or str(payload.get("algorithm", "")).upper() != ALGORITHM:
        raise CanvasRejected(f"algorithm is not {ALGORITHM}")
    stamp = issued_at(payload.get("issuedAt"))
    if max_age is not None:
        if stamp is None:
            raise CanvasRejected("no issuedAt: the request's age cannot be checked")
        if stamp > now + CLOCK_SKEW or now - stamp > max_age:
            raise CanvasRejected(f"stale: issued at {stamp.isoformat()}")
    return _context(payload, stamp)
