"""A fake Google Calendar API v3 on 127.0.0.1 (plain HTTP), speaking Google's JSON.

It exchanges service-account JWT bearer assertions for tokens at ``/token`` (checking the signature
against the key's public key, ``aud``, ``scope`` and the delegation ``sub``), answers
``POST /calendar/v3/freeBusy`` from ``busy`` (a calendar in ``unknown`` answers ``notFound``), inserts,
gets, patches and deletes events per calendar (only as the calendar's own user; 409 on a taken id, Meet links
on ``conferenceDataVersion=1``), moves them to another calendar (``events.move``: the event leaves its
calendar and keeps its id on the destination, whose user becomes the organizer; 403 ``requiredAccessLevel``
unless the caller may make changes to the destination: every domain calendar while ``domain_manages_calendars``,
else only those ``writers`` grants) and keeps every request. ``fail_next(503, 429)`` scripts the answers of
the next API calls; writes (insert, patch, delete, move) can also be carried out and their answer lost (see
``fake_faults``): ``next_outcomes("applied_then_5xx", "applied_then_dropped", "slow")`` scripts the next writes,
and ``error_share`` makes that share of API calls draw a fault (seeded): a refusal with one of ``error_statuses``,
a slow answer, or for a write an answer lost; ``injected`` counts them by kind (a refusal by its status).
``meet_pending`` answers an insert with a conference still pending (a later GET has the link).
"""

from __future__ import annotations

import functools
import json
import random
import re
import secrets
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from entrypoints.demo.fake_faults import REFUSED, Answer, Fault, FaultyService

API_PREFIX = "/calendar/v3"
TOKEN_PATH = "/token"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # what Google requires as aud, whatever token_uri is
FREEBUSY_SCOPES = {"https://www.googleapis.com/auth/calendar", "https://www.googleapis.com/auth/calendar.readonly",
                   "https://www.googleapis.com/auth/calendar.freebusy"}
EVENTS_SCOPES = {"https://www.googleapis.com/auth/calendar", "https://www.googleapis.com/auth/calendar.events"}
EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
EVENTS_PATH = re.compile(
    rf"^{API_PREFIX}/calendars/(?P<calendar>[^/]+)/events(?:/(?P<event>[^/]+)(?P<move>/move)?)?$")
MAX_FREEBUSY_ITEMS = 50
STATUS_TEXT = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
               410: "Gone", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
               503: "Service Unavailable"}
FAULT_REASONS = {429: "rateLimitExceeded", 403: "rateLimitExceeded", 500: "backendError", 502: "backendError",
                 503: "backendError"}


@dataclass
class FakeGoogleCalendar(FaultyService):
    """What the fake holds, what it received, and how it should misbehave next."""

    client_email: str = "baton@baton-test.iam.gserviceaccount.com"
    domain: str = "example.com"
    busy: dict[str, list[tuple[datetime, datetime]]] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)
    events: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    domain_manages_calendars: bool = True  # Workspace sharing "share all information, and allow managing"
    writers: dict[str, set[str]] = field(default_factory=dict)  # calendar -> other users who may change it
    token_grants: list[dict[str, Any]] = field(default_factory=list)
    freebusy_requests: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: deque[int] = field(default_factory=deque)
    error_statuses: tuple[int, ...] = (503,)
    meet_pending: bool = False
    change_number: int = 0
    list_page_size: int = 250
    expire_sync_tokens: bool = False
    random: random.Random = field(default_factory=lambda: random.Random(6))
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    public_key_pem: str = ""
    url: str = ""
    key_file: Path | None = None

    @property
    def api_url(self) -> str:
        return f"{self.url}{API_PREFIX}/"

    def fail_next(self, *statuses: int) -> None:
        self.faults.extend(statuses)

    def refusal_labels(self) -> tuple[str, ...]:
        return tuple(str(status) for status in self.error_statuses)

    def draw_fault(self, write: bool, refusals: Sequence[str] = ()) -> Fault | None:
        """A status queued by ``fail_next`` first, else a scripted or random fault (``FaultyService.draw_fault``)."""
        if self.faults:
            return Fault(REFUSED, str(self.faults.popleft()))
        return super().draw_fault(write, refusals)

    def refusal(self, fault: Fault) -> Answer:
        status = int(fault.label)
        return google_error(status, FAULT_REASONS.get(status, "injected"), "injected fault")

    def lost_answer(self) -> Answer:
        status = self.random.choice([status for status in self.error_statuses if status >= 500] or [503])
        return google_error(status, FAULT_REASONS[status], "Backend Error")

    def touch(self, calendar: str, event: dict[str, Any]) -> None:
        """An event changed: a later ``events.list`` with an older sync token returns it."""
        self.change_number += 1
        event["changeNumber"] = self.change_number
        event["updated"] = _rfc3339(datetime.now(UTC))

    def host_edit(self, calendar: str, event_id: str, *, response: tuple[str, str] | None = None,
                  start: datetime | None = None, end: datetime | None = None, delete: bool = False) -> None:
        """What a host does in Google Calendar: answer as an attendee, move or delete the event."""
        event = self.events[calendar][event_id]
        if response is not None:
            for attendee in event["attendees"]:
                if attendee["email"] == response[0]:
                    attendee["responseStatus"] = response[1]
        if start is not None and end is not None:
            event["start"] = {"dateTime": _rfc3339(start), "timeZone": "UTC"}
            event["end"] = {"dateTime": _rfc3339(end), "timeZone": "UTC"}
        if delete:
            event["status"] = "cancelled"
        self.touch(calendar, event)

    def live_events(self, calendar: str) -> list[dict[str, Any]]:
        return [event for event in self.events.get(calendar, {}).values() if event["status"] != "cancelled"]

    def grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != JWT_BEARER_GRANT:
            return 400, {"error": "unsupported_grant_type", "error_description": str(form.get("grant_type"))}
        try:
            claims = jwt.decode(form.get("assertion", ""), self.public_key_pem, algorithms=["RS256"],
                                audience=GOOGLE_TOKEN_AUDIENCE,
                                options={"require": ["iss", "aud", "exp", "iat", "scope"]})
        except jwt.PyJWTError as exc:
            return 400, {"error": "invalid_grant", "error_description": f"Invalid JWT Signature: {exc}"}
        if claims["iss"] != self.client_email:
            return 400, {"error": "invalid_grant", "error_description": "Invalid issuer"}
        subject = claims.get("sub")
        if not subject or not subject.endswith("@" + self.domain):
            return 401, {"error": "unauthorized_client",
                         "error_description": "Client is unauthorized to retrieve access tokens using this method"}
        token = "ya29.fake-" + secrets.token_urlsafe(12)
        self.tokens[token] = {"sub": subject, "scopes": set(claims["scope"].split())}
        self.token_grants.append(claims)
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}


def google_error(status: int, reason: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"errors": [{"domain": "global", "reason": reason, "message": message}],
                              "code": status, "message": message}}


INTERNAL_KEYS = frozenset({"sendUpdates", "cancelUpdates", "moveUpdates", "changeNumber"})  # what the fake notes, Google never sends


def _public(event: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key not in INTERNAL_KEYS}


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _freebusy(fake: FakeGoogleCalendar, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    items = [item["id"] for item in body.get("items", [])]
    fake.freebusy_requests.append({"items": items, "timeMin": body.get("timeMin"), "timeMax": body.get("timeMax")})
    if len(items) > MAX_FREEBUSY_ITEMS:
        return google_error(400, "tooManyCalendarsRequested", "The number of calendars requested is too large.")
    try:
        start, end = datetime.fromisoformat(body["timeMin"]), datetime.fromisoformat(body["timeMax"])
    except (KeyError, ValueError):
        return google_error(400, "invalid", "Bad Request")
    calendars: dict[str, Any] = {}
    for email in items:
        if email in fake.unknown:
            calendars[email] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
        else:
            calendars[email] = {"busy": [{"start": _rfc3339(b_start), "end": _rfc3339(b_end)}
                                         for b_start, b_end in fake.busy.get(email, []) if b_end > start and b_start < end]}
    return 200, {"kind": "calendar#freeBusy", "timeMin": body["timeMin"], "timeMax": body["timeMax"],
                 "calendars": calendars}


def _insert(fake: FakeGoogleCalendar, calendar: str, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    event_id = body.get("id") or secrets.token_hex(13)
    if not EVENT_ID.match(event_id):
        return google_error(400, "invalid", "Invalid resource id value.")
    calendar_events = fake.events.setdefault(calendar, {})
    if event_id in calendar_events:
        return google_error(409, "duplicate", "The requested identifier already exists.")
    now = _rfc3339(datetime.now(UTC))
    event = {
        "kind": "calendar#event", "etag": f'"{secrets.randbelow(10**15)}"', "id": event_id, "status": "confirmed",
        "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}", "created": now, "updated": now,
        "summary": body.get("summary", ""), "description": body.get("description", ""),
        "creator": {"email": calendar, "self": True}, "organizer": {"email": calendar, "self": True},
        "start": body["start"], "end": body["end"], "iCalUID": f"{event_id}@google.com", "sequence": 0,
        "attendees": [{"email": a["email"], "responseStatus": a.get("responseStatus", "needsAction"),
                       **({"organizer": True, "self": True} if a["email"] == calendar else {})}
                      for a in body.get("attendees", [])],
        "reminders": {"useDefault": True}, "eventType": "default",
        "sendUpdates": query.get("sendUpdates"),
    }
    create = (body.get("conferenceData") or {}).get("createRequest")
    if create and query.get("conferenceDataVersion") == "1":
        code = "-".join("".join(fake.random.choice("abcdefghijkmnopqrstuvwxyz") for _ in range(n)) for n in (3, 4, 3))
        link = f"https://meet.google.com/{code}"
        event["hangoutLink"] = link
        event["conferenceData"] = {
            "createRequest": {**create, "status": {"statusCode": "success"}},
            "entryPoints": [{"entryPointType": "video", "uri": link, "label": f"meet.google.com/{code}"}],
            "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
            "conferenceId": code,
        }
    calendar_events[event_id] = event
    fake.touch(calendar, event)
    answer = _public(event)
    if create and fake.meet_pending:  # Google may still be creating the conference when it answers
        answer.pop("hangoutLink", None)
        answer["conferenceData"] = {"createRequest": {**create, "status": {"statusCode": "pending"}}}
    return 200, answer


def _move(fake: FakeGoogleCalendar, user: str, calendar: str, event: dict[str, Any],
          query: dict[str, str]) -> tuple[int, Any]:
    """``events.move``: the event leaves ``calendar`` and appears on ``destination`` with the same id."""
    destination = query.get("destination", "")
    if not destination:
        return google_error(400, "required", "Required parameter: destination")
    may_write = destination == user or user in fake.writers.get(destination, set()) or (
        fake.domain_manages_calendars and destination.endswith("@" + fake.domain))
    if not may_write:
        return google_error(403, "requiredAccessLevel", "You need to have writer access to this calendar.")
    target = fake.events.setdefault(destination, {})
    if event["id"] in target and target[event["id"]]["status"] != "cancelled":
        return google_error(409, "duplicate", "The requested identifier already exists.")
    del fake.events[calendar][event["id"]]
    event["organizer"] = {"email": destination}
    event["sequence"] += 1
    event["moveUpdates"] = query.get("sendUpdates")
    target[event["id"]] = event
    fake.touch(destination, event)
    return 200, _public(event)


def _patch(fake: FakeGoogleCalendar, calendar: str, event: dict[str, Any], body: dict[str, Any],
           query: dict[str, str]) -> tuple[int, Any]:
    event.update({key: body[key] for key in ("start", "end", "status", "summary") if key in body})
    if "attendees" in body:
        event["attendees"] = [{"email": a["email"], "responseStatus": a.get("responseStatus", "needsAction"),
                               **({"organizer": True, "self": True} if a["email"] == calendar else {})}
                              for a in body["attendees"]]
    event["sequence"] += 1
    event["sendUpdates"] = query.get("sendUpdates")
    fake.touch(calendar, event)
    return 200, _public(event)


def _list(fake: FakeGoogleCalendar, calendar: str, query: dict[str, str]) -> tuple[int, Any]:
    """``events.list``: a full list (``timeMin``) or the changes since a sync token, page by page."""
    events = list(fake.events.get(calendar, {}).values())
    token = query.get("syncToken")
    if token:
        if fake.expire_sync_tokens or not token.startswith("cn-") or "timeMin" in query:
            return google_error(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")
        events = [event for event in events if event["changeNumber"] > int(token[3:])]
    else:
        if "timeMin" in query:
            since = datetime.fromisoformat(query["timeMin"])
            events = [event for event in events if datetime.fromisoformat(event["end"]["dateTime"]) > since]
        if query.get("showDeleted") != "true":
            events = [event for event in events if event["status"] != "cancelled"]
    events.sort(key=lambda event: event["changeNumber"])
    size = min(int(query.get("maxResults", "250")), fake.list_page_size)
    first = int(query.get("pageToken", "p-0")[2:])
    body: dict[str, Any] = {"kind": "calendar#events", "summary": calendar,
                            "items": [_public(event) for event in events[first:first + size]]}
    if first + size < len(events):
        body["nextPageToken"] = f"p-{first + size}"
    else:
        body["nextSyncToken"] = f"cn-{fake.change_number}"
    return 200, body


def _is_write(method: str, path: str) -> bool:
    """Inserts, patches, deletes and moves change events; GETs and free/busy (a POST) only read."""
    return method in ("PATCH", "DELETE") or (method == "POST" and EVENTS_PATH.match(path) is not None)


def _handler(fake: FakeGoogleCalendar, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: Any | None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status, STATUS_TEXT.get(status))
            if body is not None:
                self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", "0")))

        def _token(self) -> dict[str, Any] | None:
            header = self.headers.get("Authorization", "")
            return fake.tokens.get(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None

        def _api(self, method: str) -> None:
            """Writes (insert, patch, delete, move) may be carried out and their answer lost; reads only refused
            or slow. A call without a valid token is answered 401 and never faulted."""
            raw = self._body()
            parts = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            body = json.loads(raw) if raw else {}
            with lock:
                fake.requests.append({"method": method, "path": parts.path, "query": query, "body": body})
            fake.respond(self, lock, _is_write(method, parts.path),
                         lambda: self._answer(method, parts.path, query, body), self._send,
                         faultable=self._token() is not None)

        def _answer(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
            token = self._token()
            if token is None:
                return 401, {"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                                       "status": "UNAUTHENTICATED"}}
            if method == "POST" and path == f"{API_PREFIX}/freeBusy":
                if not token["scopes"] & FREEBUSY_SCOPES:
                    return google_error(403, "insufficientPermissions", "Insufficient Permission")
                return _freebusy(fake, body)
            match = EVENTS_PATH.match(path)
            if match is None:
                return google_error(404, "notFound", "Not Found")
            calendar = unquote(match["calendar"])
            if not token["scopes"] & EVENTS_SCOPES or token["sub"] != calendar:
                return google_error(403, "forbidden", f"{token['sub']} may not write to {calendar}")
            event_id = unquote(match["event"]) if match["event"] else None
            if method == "POST" and event_id is None:
                return _insert(fake, calendar, body, query)
            if method == "GET" and event_id is None:
                return _list(fake, calendar, query)
            event = fake.events.get(calendar, {}).get(event_id or "")
            if event is None or (match["move"] and event["status"] == "cancelled"):
                return google_error(404, "notFound", "Not Found")
            if match["move"]:
                if method != "POST":
                    return google_error(405, "methodNotAllowed", method)
                return _move(fake, token["sub"], calendar, event, query)
            if method == "GET":
                return 200, _public(event)
            if method == "DELETE":
                if event["status"] == "cancelled":
                    return google_error(410, "deleted", "Resource has been deleted")
                event["status"] = "cancelled"
                event["cancelUpdates"] = query.get("sendUpdates")
                fake.touch(calendar, event)
                return 204, None
            if method == "PATCH":
                return _patch(fake, calendar, event, body, query)
            return google_error(405, "methodNotAllowed", method)

        def do_POST(self) -> None:
            if self.path != TOKEN_PATH:
                self._api("POST")
                return
            form = {key: values[0] for key, values in parse_qs(self._body().decode()).items()}
            with lock:
                self._send(*fake.grant(form))

        def do_GET(self) -> None:
            self._api("GET")

        def do_DELETE(self) -> None:
            self._api("DELETE")

        def do_PATCH(self) -> None:
            self._api("PATCH")

    return Handler


@functools.cache
def _signing_key() -> rsa.RSAPrivateKey:
    """One service account key per test process (generating one takes a while)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@contextmanager
def fake_google_calendar(tmp_dir: Path, **options: Any) -> Iterator[FakeGoogleCalendar]:
    """Starts the fake and writes a service account key file for it (``token_uri`` at the fake)."""
    fake = FakeGoogleCalendar(**options)
    key = _signing_key()
    fake.public_key_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake, threading.Lock()))
    fake.url = f"http://127.0.0.1:{server.server_port}"
    fake.key_file = tmp_dir / "service-account.json"
    fake.key_file.write_text(json.dumps({
        "type": "service_account", "project_id": "baton-test", "private_key_id": secrets.token_hex(20),
        "private_key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode(),
        "client_email": fake.client_email, "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": f"{fake.url}{TOKEN_PATH}",
    }))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
