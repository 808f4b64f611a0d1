"""``Booking_Request__e`` platform events to BookingRequest messages. Pure.

The event's fields: ``Object_Type__c``, ``Record_Id__c``, ``Scheduler_Id__c`` (default: the event's
``CreatedById``), ``Scheduler_Name__c``, ``Start__c`` (date/time) or ``Meet_Now__c``, ``Guest_Email__c``,
``Guest_Name__c``, ``Invitees__c`` and ``Co_Hosts__c`` (comma- or semicolon-separated), ``Meeting_Type__c``,
``Host_Kind__c`` with ``Host_User_Id__c`` or ``Host_Team__c``, ``Pool_Member_Id__c``,
``Meeting_Platform__c``. The event's ``EventUuid`` (or replay id) is the request id, so a redelivered
event books once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from kernel.errors import InputError
from messages.booking import BookingRequest

BOOKING_REQUEST_CHANNEL = "/event/Booking_Request__e"
SEPARATORS = re.compile(r"[,;\s]+")
SIMPLE_FIELDS = {
    "Object_Type__c": "object_type", "Record_Id__c": "record_id", "Scheduler_Id__c": "scheduler_user_id",
    "Scheduler_Name__c": "scheduler_name", "Start__c": "start", "Meet_Now__c": "meet_now",
    "Guest_Email__c": "guest_email", "Guest_Name__c": "guest_name", "Meeting_Type__c": "meeting_type",
    "Pool_Member_Id__c": "pool_member_id", "Meeting_Platform__c": "meeting_platform",
}


def _listed(value: Any) -> list[str]:
    return [part for part in SEPARATORS.split(str(value or "")) if part]


def _data(message: Mapping[str, Any]) -> Mapping[str, Any]:
    data = message.get("data", message)
    if not isinstance(data, Mapping) or not isinstance(data.get("payload"), Mapping):
        raise InputError("a Booking_Request__e event needs data.payload")
    return data


def booking_request_from_event(message: Mapping[str, Any], where: str = "event") -> BookingRequest:
    """One Bayeux event message (or its ``data``) as a booking request; InputError names the bad field."""
    data = _data(message)
    payload: Mapping[str, Any] = data["payload"]
    event = data.get("event") if isinstance(data.get("event"), Mapping) else {}
    key = event.get("EventUuid") or event.get("replayId")
    body: dict[str, Any] = {target: payload[source] for source, target in SIMPLE_FIELDS.items()
                            if payload.get(source) not in (None, "")}
    body.setdefault("scheduler_user_id", payload.get("CreatedById"))
    body["invitees"] = _listed(payload.get("Invitees__c"))
    body["co_hosts"] = _listed(payload.get("Co_Hosts__c"))
    if payload.get("Host_Kind__c"):
        body["host"] = {"kind": payload["Host_Kind__c"], "user_id": payload.get("Host_User_Id__c") or None,
                        "team": payload.get("Host_Team__c") or None}
    if key is not None:
        body["request_id"] = f"platform_event:{key}"
    try:
        return BookingRequest.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(part) for part in error['loc']) or 'request'}: {error['msg']}"
                             for error in exc.errors())
        raise InputError(f"{where}: {problems}") from None
