"""Salesforce outbound messages (SOAP notifications): parsed safely, answered with an Ack."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException

from adapters.files import build_event
from kernel.errors import InputError
from messages import ChangeType, RecordEvent, Source
from routing.graph import same_salesforce_id

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_NOTIFICATIONS = 100
BATON_ORIGIN = "client=baton"

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
)


@dataclass(frozen=True)
class Notification:
    notification_id: str
    object_type: str
    record_id: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class OutboundMessage:
    """What Baton keeps of an outbound message: never the SessionId."""

    organization_id: str
    action_id: str
    notifications: list[Notification]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: Element, name: str, namespace: str = OUTBOUND_NS) -> Element | None:
    return element.find(f"{{{namespace}}}{name}")


def _text(element: Element, name: str) -> str:
    found = _child(element, name)
    if found is None or not (found.text or "").strip():
        raise InputError(f"outbound message: missing {name}")
    return found.text.strip()  # type: ignore[union-attr]


def _sobject(notification: Element, number: int) -> tuple[str, dict[str, Any]]:
    sobject = _child(notification, "sObject")
    if sobject is None:
        raise InputError(f"outbound message: Notification[{number}] has no sObject")
    declared = sobject.get(f"{{{XSI_NS}}}type", "")
    object_type = declared.rsplit(":", 1)[-1]
    if not object_type:
        raise InputError(f"outbound message: Notification[{number}].sObject has no xsi:type")
    fields: dict[str, Any] = {}
    for field in sobject:
        nil = field.get(f"{{{XSI_NS}}}nil") == "true"
        fields[_local(field.tag)] = None if nil else (field.text or "")
    return object_type, fields


def parse_outbound_message(body: bytes) -> OutboundMessage:
    """Parses a notifications() SOAP envelope; any DTD or entity (XXE, billion laughs) is refused."""
    try:
        root = SafeElementTree.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise InputError(f"outbound message: refused unsafe XML ({type(exc).__name__})") from None
    except SafeElementTree.ParseError as exc:
        raise InputError(f"outbound message: malformed XML: {exc}") from None
    if root.tag != f"{{{SOAP_NS}}}Envelope":
        raise InputError(f"outbound message: expected a SOAP Envelope, got <{_local(root.tag)}>")
    soap_body = root.find(f"{{{SOAP_NS}}}Body")
    notifications = soap_body.find(f"{{{OUTBOUND_NS}}}notifications") if soap_body is not None else None
    if notifications is None:
        raise InputError("outbound message: no notifications element in the SOAP Body")
    items = notifications.findall(f"{{{OUTBOUND_NS}}}Notification")
    if not items:
        raise InputError("outbound message: no Notification")
    if len(items) > MAX_NOTIFICATIONS:
        raise InputError(f"outbound message: {len(items)} notifications, at most {MAX_NOTIFICATIONS} allowed")
    parsed = []
    for number, item in enumerate(items):
        object_type, fields = _sobject(item, number)
        record_id = fields.get("Id")
        if not record_id:
            raise InputError(f"outbound message: Notification[{number}].sObject has no Id")
        parsed.append(Notification(_text(item, "Id"), object_type, record_id, fields))
    return OutboundMessage(_text(notifications, "OrganizationId"), _text(notifications, "ActionId"), parsed)


def change_from_dates(fields: dict[str, Any]) -> ChangeType:
    """A record whose CreatedDate equals its LastModifiedDate was just created; otherwise it was updated."""
    created, modified = fields.get("CreatedDate"), fields.get("LastModifiedDate")
    return ChangeType.CREATE if created and created == modified else ChangeType.UPDATE


def from_salesforce(event: RecordEvent, source: Source, integration_user_id: str | None) -> RecordEvent:
    """The event as Salesforce sent it: who changed the record, and Baton's origin when that was Baton's user."""
    modified_by = event.fields.get("LastModifiedById")
    by_baton = same_salesforce_id(modified_by, integration_user_id)
    return event.model_copy(update={
        "source": source,
        "changed_by": modified_by,
        "change_origin": BATON_ORIGIN if by_baton else None,
    })


def to_events(message: OutboundMessage, received_at: datetime, integration_user_id: str | None) -> list[RecordEvent]:
    """One record event per notification, keyed by its notification id (redeliveries route once)."""
    events = []
    for item in message.notifications:
        fields = {k: v for k, v in item.fields.items() if k != "Id"}
        try:
            event = build_event(item.object_type, item.record_id, fields, item.notification_id, received_at,
                                change_from_dates(fields))
        except ValueError as exc:
            raise InputError(f"outbound message: notification {item.notification_id}: {exc}") from None
        events.append(from_salesforce(event, Source.OUTBOUND_MESSAGE, integration_user_id))
    return events
