"""Which Salesforce fields Baton keeps of users, accounts, contacts and leads, and how a record becomes a row.

The same mapping serves the SOQL sync (whole records) and change events (only the fields they carry).
A row is "removed" (a tombstone, so a stale event cannot bring it back) when the record is deleted,
or for leads when converted or in a closed status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from kernel.ports.reference_sync import SyncedWrite

SYNCED_OBJECTS = ("User", "Account", "Contact", "Lead")
DELETABLE_OBJECTS = frozenset({"Account", "Contact", "Lead"})  # users are deactivated, never deleted
DEFAULT_CLOSED_LEAD_STATUSES = frozenset({"Closed - Converted", "Closed - Not Converted"})
COMPOUND_NAME_FIELD = "Name"  # change events nest FirstName/LastName of people under Name
ID_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
SHORT_ID_LENGTH = 15
ID_CHUNK_LENGTH = 5


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    return {"true": True, "false": False}.get(str(value).strip().lower())


def _number(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def _whole(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def salesforce_datetime(value: Any) -> datetime | None:
    """A Salesforce dateTime (``2026-11-20T09:00:00.000+0000`` or ``...Z``) in UTC; None when absent."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    if len(text) >= 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    parsed = datetime.fromisoformat(text)
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def soql_datetime(value: datetime) -> str:
    """A SOQL dateTime literal (Salesforce keeps whole seconds)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def long_id(record_id: str) -> str:
    """The 18-character form of a Salesforce id (the API's), so 15- and 18-character ids key one row."""
    if len(record_id) != SHORT_ID_LENGTH:
        return record_id
    suffix = ""
    for start in range(0, SHORT_ID_LENGTH, ID_CHUNK_LENGTH):
        chunk = record_id[start : start + ID_CHUNK_LENGTH]
        suffix += ID_SUFFIX_ALPHABET[sum(1 << bit for bit, char in enumerate(chunk) if char.isupper())]
    return record_id + suffix


Converter = Callable[[Any], Any]

# Salesforce field -> (column, converter), per object; Id and SystemModstamp are kept for every object.
FIELDS: dict[str, dict[str, tuple[str, Converter]]] = {
    "User": {"Name": ("name", _text), "Email": ("email", _text), "IsActive": ("is_active", _bool),
             "TimeZoneSidKey": ("time_zone", _text)},
    "Account": {"Name": ("name", _text), "Website": ("website", _text), "OwnerId": ("owner_id", _text),
                "LastActivityDate": ("last_activity_date", _date),
                "NumberOfEmployees": ("number_of_employees", _whole), "AnnualRevenue": ("annual_revenue", _number)},
    "Contact": {"FirstName": ("first_name", _text), "LastName": ("last_name", _text), "Email": ("email", _text),
                "AccountId": ("account_id", _text), "OwnerId": ("owner_id", _text),
                "LastActivityDate": ("last_activity_date", _date)},
    "Lead": {"FirstName": ("first_name", _text), "LastName": ("last_name", _text), "Company": ("company", _text),
             "Email": ("email", _text), "Status": ("status", _text), "OwnerId": ("owner_id", _text),
             "LastActivityDate": ("last_activity_date", _date)},
}


@dataclass(frozen=True)
class SyncOptions:
    """The org-specific parts: extra account domain fields, the users' calendar address, closed lead statuses."""

    account_domain_fields: tuple[str, ...] = ()
    user_calendar_field: str | None = None
    closed_lead_statuses: frozenset[str] = field(default_factory=lambda: DEFAULT_CLOSED_LEAD_STATUSES)

    def soql_fields(self, object_type: str) -> list[str]:
        """Every field the sync selects for ``object_type``, in a stable order."""
        extra: list[str] = []
        if object_type == "User" and self.user_calendar_field:
            extra.append(self.user_calendar_field)
        if object_type == "Account":
            extra.extend(self.account_domain_fields)
        if object_type == "Lead":
            extra.append("IsConverted")
        if object_type in DELETABLE_OBJECTS:
            extra.append("IsDeleted")
        names = ["Id", *FIELDS[object_type], *extra, "SystemModstamp"]
        return list(dict.fromkeys(names))

    def removed_reason(self, object_type: str, fields: Mapping[str, Any]) -> str | None:
        if _bool(fields.get("IsDeleted")):
            return "deleted"
        if object_type == "Lead" and _bool(fields.get("IsConverted")):
            return "converted"
        if object_type == "Lead" and str(fields.get("Status") or "").casefold() in self._closed_folded:
            return "closed"
        return None

    @property
    def _closed_folded(self) -> frozenset[str]:
        return frozenset(status.casefold() for status in self.closed_lead_statuses)

    def row(self, object_type: str, record_id: str, fields: Mapping[str, Any], stamp: datetime, now: datetime,
            *, partial: bool = False) -> SyncedWrite:
        """The row for a record's fields. ``partial``: only the columns whose fields are present (a change event)."""
        fields = _flatten_name(fields)
        row: dict[str, Any] = {}
        for name, (column, convert) in FIELDS[object_type].items():
            if name in fields or not partial:
                row[column] = convert(fields.get(name))
        if object_type == "User":
            self._calendar_email(fields, row, partial)
        if object_type == "Account":
            present = [f for f in self.account_domain_fields if f in fields]
            if present or not partial:
                row["domains"] = " ".join(str(fields[f]) for f in present if fields[f]) or None
        tells_removal = ("IsDeleted", "IsConverted", "Status")
        if not partial or any(name in fields for name in tells_removal):
            row["removed_reason"] = self.removed_reason(object_type, fields)
        return SyncedWrite(long_id(record_id), stamp.astimezone(UTC), now, row)

    def _calendar_email(self, fields: Mapping[str, Any], row: dict[str, Any], partial: bool) -> None:
        source = self.user_calendar_field if self.user_calendar_field and fields.get(self.user_calendar_field) else "Email"
        if source in fields or not partial:
            row["calendar_email"] = _text(fields.get(source))


def _flatten_name(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    """Change events carry a person's name as ``{"Name": {"FirstName": ..., "LastName": ...}}``."""
    nested = fields.get(COMPOUND_NAME_FIELD)
    if not isinstance(nested, Mapping):
        return fields
    return {**fields, **{key: value for key, value in nested.items() if key in ("FirstName", "LastName")}}
