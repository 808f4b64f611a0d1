"""The fake Salesforce's Event resource by external id: upsert (PATCH), read (GET) and delete.

``PATCH /services/data/vXX.X/sobjects/Event/{field}/{value}`` creates (201 with the new Id) or updates
(200 with the Id, as API 46.0 and later answer; ``update_status = 204`` mimics older versions). Events
are kept by external id in ``events.records``; ``fail_next("UNABLE_TO_LOCK_ROW")`` makes the next Event
calls answer 400 with that code (the org's ``fail_next_calls``, ``next_outcomes`` and ``error_share`` work
here too: an upsert or a delete is a write).
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from entrypoints.demo.fake_salesforce import FakeOrg

EVENT_PATH = re.compile(r"^/services/data/v[0-9.]+/sobjects/Event/(?P<field>[A-Za-z0-9_]+)/(?P<value>[^/]+)$")


def is_event_path(path: str) -> bool:
    return EVENT_PATH.match(urlsplit(path).path) is not None


@dataclass
class FakeEvents:
    external_id_field: str = "Baton_Booking_Id__c"
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    writes: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    update_status: int = 200
    faults: deque[str] = field(default_factory=deque)
    next_number: int = 1

    def fail_next(self, *codes: str) -> None:
        self.faults.extend(codes)

    def handle(self, handler: BaseHTTPRequestHandler, org: FakeOrg, lock: threading.Lock) -> None:
        """An upsert or delete is a write (it may be carried out and its answer lost); a GET a read."""
        match = EVENT_PATH.match(urlsplit(handler.path).path)
        assert match is not None
        length = int(handler.headers.get("Content-Length", "0"))
        raw = handler.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else {}
        with lock:
            org.calls.append({"method": handler.command, "path": handler.path, "headers": dict(handler.headers),
                              "payload": body})
        org.respond(handler, lock, handler.command != "GET",
                    lambda: self._answer(handler.command, match["field"], unquote(match["value"]), body),
                    lambda status, answer: _send(handler, status, answer))

    def _answer(self, method: str, field_name: str, value: str, body: dict[str, Any]) -> tuple[int, Any]:
        if field_name != self.external_id_field:
            return 404, [{"errorCode": "NOT_FOUND",
                          "message": f"Provided external ID field does not exist or is not accessible: {field_name}"}]
        if self.faults:
            return 400, [{"errorCode": self.faults.popleft(), "message": "injected", "fields": []}]
        record = self.records.get(value)
        if method == "GET":
            return (200, record) if record else (404, [{"errorCode": "NOT_FOUND",
                                                        "message": "The requested resource does not exist"}])
        if method == "DELETE":
            if record is None:
                return 404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
            del self.records[value]
            self.deleted.append(value)
            return 204, None
        if method != "PATCH":
            return 405, [{"errorCode": "METHOD_NOT_ALLOWED", "message": method}]
        if field_name in body:
            return 400, [{"errorCode": "INVALID_FIELD", "fields": [field_name],
                          "message": f"{field_name} is the external id of this upsert; leave it out of the body"}]
        self.writes.append((method, value, body))
        if record is not None:
            record.update(body)
            return (204, None) if self.update_status == 204 else (
                200, {"id": record["Id"], "success": True, "errors": [], "created": False})
        missing = [name for name in ("StartDateTime", "EndDateTime") if name not in body]
        if missing:
            return 400, [{"errorCode": "REQUIRED_FIELD_MISSING", "fields": missing,
                          "message": f"Required fields are missing: [{', '.join(missing)}]"}]
        event_id = f"00U5g{self.next_number:010d}AAA"
        self.next_number += 1
        self.records[value] = {"attributes": {"type": "Event", "url": f"/services/data/v61.0/sobjects/Event/{event_id}"},
                               "Id": event_id, field_name: value, **body}
        return 201, {"id": event_id, "success": True, "errors": [], "created": True}


def _send(handler: BaseHTTPRequestHandler, status: int, answer: Any) -> None:
    data = json.dumps(answer).encode() if answer is not None else b""
    handler.send_response(status)
    if answer is not None:
        handler.send_header("Content-Type", "application/json;charset=UTF-8")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
