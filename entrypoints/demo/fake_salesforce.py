"""A fake Salesforce REST server on 127.0.0.1 over HTTPS, with injectable faults.

It speaks the OAuth client-credentials token endpoint, sObject Collections (owner updates) and the
query resources (``/query``, ``/queryAll``, ``nextRecordsUrl`` pages; see ``fake_query``), the ``limits``
resource (daily API requests), sObject describes (``fake_describes``), Bulk API 2.0 (``fake_bulk``) and Event
upserts (``fake_events``) over the records a test puts into the org: ``org.records["Account"] = [{"Id": ..., "SystemModstamp": ...}]``.
Every request is counted in ``org.calls``; ``fail_next_calls(503, 429)`` makes the next REST API
calls (not the token endpoint) answer with those statuses. Writes (sObject Collections, Event upserts and
deletes, Bulk API 2.0 ingest calls) can also be carried out and their answer lost (see ``fake_faults``):
``next_outcomes("applied_then_5xx", "applied_then_dropped", "slow")`` scripts the next writes, and with
``error_share`` set every call draws one of those faults (reads: a refusal or a slow answer).
"""

from __future__ import annotations

import json
import random
import ssl
import threading
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

import jwt
import requests
import trustme
from simple_salesforce import Salesforce

from entrypoints.demo.fake_bulk import API_LIMIT, FakeBulk, is_bulk
from entrypoints.demo.fake_describes import answer_describe, standard_describes
from entrypoints.demo.fake_events import FakeEvents, is_event_path
from entrypoints.demo.fake_faults import APPLIED_THEN_DROPPED, REFUSED, Answer, Fault, FaultyService
from entrypoints.demo.fake_query import QueryCursor, answer_query

API_VERSION = "61.0"
COLLECTIONS_PATH = f"/services/data/v{API_VERSION}/composite/sobjects"
LIMITS_PATH = f"/services/data/v{API_VERSION}/limits/"
DEFAULT_PAGE_SIZE = 2000
LOCK_FAULT = "UNABLE_TO_LOCK_ROW"
HTTP_REFUSALS = ("503", "429")
RANDOM_FAULTS = (*HTTP_REFUSALS, LOCK_FAULT)
FAULT_CODES = {429: "REQUEST_LIMIT_EXCEEDED", 403: "REQUEST_LIMIT_EXCEEDED", 503: "SERVER_UNAVAILABLE",
               401: "INVALID_SESSION_ID"}  # 403: the org's daily API requests are used up
LOST_ANSWERS = ((500, "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if you contact "
                 "support: 1234567890-12345 (-1234567890)"), (503, "SERVER_UNAVAILABLE", "Server unavailable"))


@dataclass
class FakeOrg(FaultyService):
    """What the fake org holds and how it should misbehave next."""

    owners: dict[str, str] = field(default_factory=dict)
    updates: Counter[str] = field(default_factory=Counter)
    calls: list[dict[str, Any]] = field(default_factory=list)
    http_faults: deque[int] = field(default_factory=deque)
    record_faults: dict[str, deque[str]] = field(default_factory=dict)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    page_size: int = DEFAULT_PAGE_SIZE
    cursors: dict[str, QueryCursor] = field(default_factory=dict)
    client_secret: str = "fake-secret"
    username: str = "baton@example.com"
    password: str = "fake-password"
    jwt_public_key: str | None = None
    bulk: FakeBulk = field(default_factory=FakeBulk)
    events: FakeEvents = field(default_factory=FakeEvents)
    url: str = ""
    ca_file: str = ""
    instance_url: str = ""
    random: random.Random = field(default_factory=lambda: random.Random(9))
    answers_to_drop: int = 0  # the next writes are carried out and their connection closed (as "applied_then_dropped")
    repeated_ids: list[list[str]] = field(default_factory=list)  # sObject Collections calls naming a record twice
    owner_history: dict[str, list[str]] = field(default_factory=dict)  # record id -> the owners written, in order
    describes: dict[str, dict[str, Any]] = field(default_factory=standard_describes)  # see fake_describes
    # record id -> the fields other than OwnerId written to it (latest value of each), and the field sets written
    field_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    # object type -> its field API names: a field not listed is refused per record (INVALID_FIELD), as Salesforce
    # does; an object not listed takes any field
    known_fields: dict[str, set[str]] = field(default_factory=dict)
    _record_index: dict[str, tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]] = field(default_factory=dict)

    def fail_next_calls(self, *statuses: int) -> None:
        self.http_faults.extend(statuses)

    def fail_record(self, record_id: str, *codes: str) -> None:
        self.record_faults.setdefault(record_id, deque()).extend(codes)

    def daily_usage(self) -> tuple[int, int]:
        """(API requests used today, daily limit): ``bulk.reported_usage`` when set, else the calls made."""
        return self.bulk.reported_usage or (len(self.calls) + len(self.bulk.requests), API_LIMIT)

    def limits(self) -> dict[str, Any]:
        """The REST ``limits`` resource (only the daily API requests)."""
        used, limit = self.daily_usage()
        return {"DailyApiRequests": {"Max": limit, "Remaining": max(limit - used, 0)}}

    def refusal_labels(self) -> tuple[str, ...]:
        return RANDOM_FAULTS

    def draw_fault(self, write: bool, refusals: Sequence[str] = ()) -> Fault | None:
        """A status queued by ``fail_next_calls`` (a queued 200 lets the call through) or ``answers_to_drop``
        first; else a scripted or random fault (``FaultyService.draw_fault``)."""
        if self.http_faults:
            status = self.http_faults.popleft()
            return None if status == HTTPStatus.OK else Fault(REFUSED, str(status))
        if write and self.answers_to_drop:
            self.answers_to_drop -= 1
            return Fault(APPLIED_THEN_DROPPED, APPLIED_THEN_DROPPED)
        return super().draw_fault(write, refusals)

    def draw_bulk_fault(self, write: bool) -> Fault | None:
        """A Bulk API call's fault: scripted or random only (``fail_next_calls`` is for REST calls), and a
        refusal is an HTTP one (no record lock on a job)."""
        return super().draw_fault(write, HTTP_REFUSALS)

    def refusal(self, fault: Fault) -> Answer:
        if fault.label == LOCK_FAULT:
            return 400, [{"errorCode": LOCK_FAULT, "message": "unable to obtain exclusive access to this record"}]
        status = int(fault.label)
        return status, [{"errorCode": FAULT_CODES.get(status, "UNKNOWN"), "message": "injected fault"}]

    def lost_answer(self) -> Answer:
        status, code, message = self.random.choice(LOST_ANSWERS)
        return status, [{"errorCode": code, "message": message}]

    def unknown_field(self, object_type: str, names: Sequence[str]) -> str | None:
        """The first of ``names`` ``object_type`` has no field for (compared without case), if it lists its fields."""
        known = self.known_fields.get(object_type)
        if known is None:
            return None
        lowered = {name.lower() for name in known}
        return next((name for name in names if name.lower() not in lowered), None)

    def write_owner(self, object_type: str, record_id: str, owner_id: str,
                    values: dict[str, Any] | None = None) -> None:
        """An owner update (with other fields written in the same record entry): counted, and visible to
        queries (``SELECT Id, OwnerId FROM Lead ...``)."""
        self.owners[record_id] = owner_id
        self.updates[record_id] += 1
        self.owner_history.setdefault(record_id, []).append(owner_id)
        rows = self.records.setdefault(object_type, [])
        indexed, index = self._record_index.get(object_type, (None, {}))
        if indexed is not rows:  # a test put a new list there
            index = {row.get("Id"): row for row in rows}
            self._record_index[object_type] = (rows, index)
        if record_id not in index:
            index[record_id] = {"Id": record_id}
            rows.append(index[record_id])
        index[record_id]["OwnerId"] = owner_id
        if values:
            index[record_id].update(values)
            self.field_values.setdefault(record_id, {}).update(values)

    def write_fields(self, record_id: str, values: dict[str, Any]) -> None:
        """An update of other fields than the owner (a booking's host field): counted, the owner untouched."""
        self.updates[record_id] += 1
        self.field_values.setdefault(record_id, {}).update(values)

    def locked_records(self, record_ids: list[str]) -> set[str]:
        """For an sObject Collections call hit by a random lock fault: some of its records (else none)."""
        if not (self.error_share and self.random.random() < self.error_share / len(RANDOM_FAULTS)):
            return set()
        self.injected[LOCK_FAULT + " (records)"] += 1
        return {record for record in record_ids if self.random.random() < 0.5}


def update_collection(org: FakeOrg, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An sObject Collections update (``allOrNone`` false): records in the order listed, each with its SaveResult.

    A record named twice in one call is written twice, in order. Salesforce documents no answer for that in
    sObject Collections ("Objects are updated in the order they're listed",
    https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_update.htm);
    only Apex DML documents a refusal ("System.ListException: Duplicate id in list"). So the fake keeps such calls
    in ``org.repeated_ids`` for a test to look at rather than inventing an answer.
    """
    ids = [record["id"] for record in records]
    if len(set(ids)) < len(ids):
        org.repeated_ids.append(ids)
    locked = org.locked_records(ids)
    results = []
    for record in records:
        faults = org.record_faults.get(record["id"])
        if faults or record["id"] in locked:
            code = faults.popleft() if faults else LOCK_FAULT
            results.append({"id": record["id"], "success": False,
                            "errors": [{"statusCode": code, "message": "injected", "fields": []}]})
            continue
        values = {name: value for name, value in record.items() if name not in ("attributes", "id", "OwnerId")}
        unknown = org.unknown_field(record["attributes"]["type"], list(values))
        if unknown is not None:
            results.append({"id": record["id"], "success": False, "errors": [{
                "statusCode": "INVALID_FIELD", "fields": [unknown],
                "message": f"No such column '{unknown}' on sobject of type {record['attributes']['type']}"}]})
            continue
        if "OwnerId" in record:
            org.write_owner(record["attributes"]["type"], record["id"], record["OwnerId"], values)
        else:
            org.write_fields(record["id"], values)
        results.append({"id": record["id"], "success": True, "errors": []})
    return results


def token_refusal(org: FakeOrg, form: dict[str, str]) -> str | None:
    """Why the token endpoint refuses this form (Salesforce's OAuth 2.0 flows), or None when it grants it."""
    grant = form.get("grant_type")
    if grant == "client_credentials":
        return None if form.get("client_secret") == org.client_secret else "invalid client credentials"
    if grant == "password":
        if form.get("client_secret") != org.client_secret:
            return "invalid client credentials"
        return None if (form.get("username"), form.get("password")) == (org.username, org.password) else (
            "authentication failure")
    if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer" and org.jwt_public_key:
        try:
            claims = jwt.decode(form.get("assertion", ""), org.jwt_public_key, algorithms=["RS256"],
                                audience=org.url, options={"require": ["iss", "sub", "aud", "exp"]})
        except jwt.PyJWTError as exc:
            return f"invalid assertion: {exc}"
        return None if claims["sub"] == org.username else "user hasn't approved this consumer"
    return f"unsupported grant type {grant}"


def _handler(org: FakeOrg, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Sforce-Limit-Info", f"api-usage={len(org.calls)}/15000")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_DELETE(self) -> None:
            if is_event_path(self.path):
                org.events.handle(self, org, lock)
            else:
                self._send(404, [{"errorCode": "NOT_FOUND", "message": self.path}])

        # Bulk API 2.0 (query and ingest jobs): entrypoints/demo/fake_bulk.py
        def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
            self._bulk_or_404()

        def _bulk_or_404(self) -> None:
            if is_bulk(self.path):
                org.bulk.handle(self, org)
            else:
                self._send(404, [{"errorCode": "NOT_FOUND", "message": self.path}])

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            if is_bulk(self.path):
                org.bulk.handle(self, org)
                return
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(pair.split("=", 1) for pair in self.rfile.read(length).decode().split("&") if "=" in pair)
            with lock:
                org.calls.append({"method": "POST", "path": self.path, "headers": dict(self.headers)})
            if self.path != "/services/oauth2/token":
                self._send(404, [{"errorCode": "NOT_FOUND", "message": self.path}])
                return
            refusal = token_refusal(org, {key: unquote_plus(value) for key, value in form.items()})
            if refusal is None:
                host, port = self.server.server_address[:2]
                self._send(200, {"access_token": "00Dfake!token",
                                 "instance_url": org.instance_url or f"https://{host}:{port}",
                                 "token_type": "Bearer", "issued_at": "1763800000000"})
            else:
                self._send(400, {"error": "invalid_grant", "error_description": refusal})

        def do_PATCH(self) -> None:  # noqa: N802 - http.server's naming
            if is_bulk(self.path):
                org.bulk.handle(self, org)
                return
            if is_event_path(self.path):
                org.events.handle(self, org, lock)
                return
            length = int(self.headers.get("Content-Length", "0"))
            payload = json.loads(self.rfile.read(length) or b"{}")
            if self.path != COLLECTIONS_PATH:
                self._send(404, [{"errorCode": "NOT_FOUND", "message": self.path}])
                return
            with lock:
                org.calls.append({"method": "PATCH", "path": self.path, "headers": dict(self.headers),
                                  "payload": payload})
            org.respond(self, lock, True, lambda: (200, update_collection(org, payload["records"])), self._send)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if is_bulk(self.path):
                org.bulk.handle(self, org)
                return
            if is_event_path(self.path):
                org.events.handle(self, org, lock)
                return
            with lock:
                org.calls.append({"method": "GET", "path": self.path, "headers": dict(self.headers),
                                  "soql": parse_qs(urlsplit(self.path).query).get("q", [None])[0]})
            org.respond(self, lock, False, self._read, self._send)

        def _read(self) -> Answer:
            if urlsplit(self.path).path == LIMITS_PATH:
                return 200, org.limits()
            described = answer_describe(org.describes, urlsplit(self.path).path)
            if described is not None:
                return described
            found = answer_query(org.records, org.cursors, self.path, self.headers, org.page_size)
            return found or (404, [{"errorCode": "NOT_FOUND", "message": self.path}])

    return Handler


@contextmanager
def fake_salesforce() -> Iterator[tuple[FakeOrg, Salesforce]]:
    """Starts the fake over HTTPS (a trustme CA) and yields it with a real simple-salesforce client."""
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(context)
    org = FakeOrg()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(org, threading.Lock()))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    with authority.cert_pem.tempfile() as ca_file:
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override verify
        session.verify = ca_file
        org.url, org.ca_file = f"https://127.0.0.1:{server.server_port}", ca_file
        client = Salesforce(instance_url=org.url, session_id="00Dfake!session",
                            version=API_VERSION, session=session)
        try:
            yield org, client
        finally:
            server.shutdown()
            server.server_close()
