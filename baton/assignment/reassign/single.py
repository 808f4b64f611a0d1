"""One record routed again on an operator's request (``baton reassign-record``, ``POST /records/{object}/{id}/reassign``).

The record's current state is read from Salesforce and sent through the router graph as a REASSIGN change,
so the assign stage credits the previous owner back and logs the reason. The routing id comes from the
request id (``reassign-<request id>``): the same request, however often repeated, routes the record once.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from dramatiq import Broker

from adapters.files import build_event
from adapters.salesforce.rereads import RecordReader
from baton.salesforce.ingest import enqueue
from kernel.errors import InputError
from messages import ChangeType, RecordEvent, Source
from messages.records import routing_id_for

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")
REASON_MAX_CHARS = 1000
OBJECT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
RECORD_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")


class RecordNotFound(InputError):
    """Salesforce has no such record (deleted, merged or a wrong id)."""


@dataclass(frozen=True)
class ReassignRequest:
    object_type: str
    record_id: str
    reason: str
    request_id: str
    kind: str = "reassign"  # the source event id's prefix: "reject" for a rejection (baton.assignment.reassign.reject)

    def source_event_id(self) -> str:
        return f"{self.kind}-{self.request_id}"

    def routing_id(self) -> str:
        return routing_id_for(Source.API, self.source_event_id())


def new_request(object_type: str, record_id: str, reason: str, request_id: str | None = None) -> ReassignRequest:
    """A checked request; a missing request id gets a fresh one. Raises InputError naming the bad part."""
    if not OBJECT_NAME.match(object_type):
        raise InputError(f"object: {object_type!r} is not an sObject name")
    if not RECORD_ID.match(record_id):
        raise InputError(f"record id: {record_id!r} is not a 15- or 18-character Salesforce id")
    reason = reason.strip()
    if not reason:
        raise InputError("reason: give why the record is reassigned (it is logged)")
    if len(reason) > REASON_MAX_CHARS:
        raise InputError(f"reason: at most {REASON_MAX_CHARS} characters")
    request_id = request_id or str(uuid.uuid4())
    if not REQUEST_ID.match(request_id):
        raise InputError("request id: 1 to 200 letters, digits or . _ : -")
    return ReassignRequest(object_type, record_id, reason, request_id)


def reassign_event(request: ReassignRequest, record: dict[str, object], now: datetime) -> RecordEvent:
    """The REASSIGN event of a record's current state, carrying the operator's reason."""
    fields = {key: value for key, value in record.items() if key not in ("Id", "attributes")}
    try:
        event = build_event(request.object_type, request.record_id, fields, request.source_event_id(), now,
                            ChangeType.REASSIGN)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return event.model_copy(update={"source": Source.API, "commit_timestamp": now, "reason": request.reason})


def reassign_record(request: ReassignRequest, reader: RecordReader, broker: Broker, now: datetime) -> str:
    """Reads the record from Salesforce and sends it to be routed again; returns the routing id.
    Raises RecordNotFound, InputError (a bad object or id) or TransientError (Salesforce away)."""
    records = reader.by_ids(request.object_type, [request.record_id])
    record = next((r for r in records if str(r.get("Id", ""))[:15] == request.record_id[:15]), None)
    if record is None:
        raise RecordNotFound(f"{request.object_type} {request.record_id}: not found in Salesforce")
    event = reassign_event(request, record, now)
    enqueue(broker, [event], 1, now)
    return request.routing_id()
