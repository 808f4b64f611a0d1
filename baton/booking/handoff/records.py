"""The record the page is opened on: name, company, owner, guest email and the object's extra fields.

Read with SOQL through the connected app when one is configured, else from Baton's synced copy; the
fields Canvas put in the signed request (or a link carried) are laid over either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from adapters.salesforce.rereads import SoqlRecordReader
from kernel.errors import BatonError
from kernel.ports.reference_sync import SyncedReads
from routing.booking.config import ObjectBooking

log = structlog.get_logger(__name__)
COMPANY_FIELD = {"Lead": "Company", "Contact": "Account.Name", "Opportunity": "Account.Name", "Account": "Name"}
FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$")
SYNCED_NAMES = {"first_name": "FirstName", "last_name": "LastName", "email": "Email", "owner_id": "OwnerId",
                "company": "Company", "account_id": "AccountId", "name": "Name", "status": "Status"}


@dataclass(frozen=True)
class RecordDetails:
    object_type: str
    record_id: str
    name: str
    company: str
    owner_id: str
    owner_name: str
    guest_email: str
    extra: list[tuple[str, str]] = field(default_factory=list)


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"Account": {"Name": "X"}}`` as ``{"Account.Name": "X"}``; Salesforce's ``attributes`` dropped."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if key == "attributes":
            continue
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def query_fields(object_type: str, settings: ObjectBooking) -> list[str]:
    wanted = ["Name", COMPANY_FIELD.get(object_type, ""), settings.guest_email_field, "OwnerId", "Owner.Name",
              *settings.page_fields]
    return [name for name in dict.fromkeys(wanted) if name and FIELD_NAME.match(name)]


def read_record(reader: SoqlRecordReader | None, reference_sync: SyncedReads, object_type: str,
                record_id: str, settings: ObjectBooking) -> dict[str, Any]:
    """The record's fields by API name: Salesforce when it can be asked, else the synced copy (or nothing)."""
    if reader is not None:
        try:
            found = reader.selected(object_type, query_fields(object_type, settings), [record_id])
        except BatonError as exc:
            log.warning("handoff_record_unread", object_type=object_type, record_id=record_id, error=str(exc))
        else:
            if found:
                return flatten(found[0])
    try:
        row = reference_sync.row(object_type, record_id)
    except KeyError:
        return {}
    if not row or row.removed_reason:
        return {}
    fields = {name: value for column, name in SYNCED_NAMES.items() if (value := getattr(row, column, None))}
    if "Name" not in fields and ("FirstName" in fields or "LastName" in fields):
        fields["Name"] = " ".join(str(fields.get(part, "")) for part in ("FirstName", "LastName")).strip()
    return fields


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def record_details(object_type: str, record_id: str, fields: Mapping[str, Any], settings: ObjectBooking,
                   owner_name: str | None = None) -> RecordDetails:
    return RecordDetails(
        object_type=object_type, record_id=record_id, name=_text(fields.get("Name")) or record_id,
        company=_text(fields.get(COMPANY_FIELD.get(object_type, ""))),
        owner_id=_text(fields.get("OwnerId")),
        owner_name=owner_name or _text(fields.get("Owner.Name")) or _text(fields.get("OwnerId")),
        guest_email=_text(fields.get(settings.guest_email_field)),
        extra=[(name, _text(fields.get(name))) for name in settings.page_fields],
    )
