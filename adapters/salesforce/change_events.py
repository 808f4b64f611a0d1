"""Change Data Capture and platform events (the Bayeux ``data`` envelope) to record events. Pure.

A change event names one or more records (``recordIds``); each becomes its own RecordEvent, keyed
``transactionKey:sequenceNumber:recordId`` so a redelivery routes once. Events Baton caused itself
(``changeOrigin`` with ``client=baton``) are ignored here, before anything is enqueued; so are updates by
Baton's integration user that changed only fields Baton writes (``without_own_writes``, ``routing.loop_guard``).

Gap events carry no field values and overflow events not even record ids: they become ``ReRead``
requests that the caller answers with a SOQL query (see ``adapters.salesforce.rereads``). So do
platform events: a platform event names a record (``Object__c``, ``Record_Id__c`` and optionally
``Change_Type__c``) and Baton reads the record's current fields.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from kernel.errors import InputError
from messages import ChangeType, RecordEvent, Source
from routing.dispatch import caused_by_baton
from routing.loop_guard import own_write_echo

CHANNEL_PATTERN = re.compile(r"^/(data|event)/[A-Za-z0-9_]+$")  # a CDC or platform event channel

HEADER_KEY = "ChangeEventHeader"
CHANGE_EVENT_PREFIX = "/data/"
PLATFORM_EVENT_PREFIX = "/event/"
PLATFORM_OBJECT_FIELD = "Object__c"
PLATFORM_RECORD_FIELD = "Record_Id__c"
PLATFORM_CHANGE_FIELD = "Change_Type__c"
PLATFORM_DEFAULT_CHANGE = ChangeType.REASSIGN
PLATFORM_CHANGES = frozenset({ChangeType.CREATE, ChangeType.UPDATE, ChangeType.UNDELETE, ChangeType.REASSIGN})
# An overflow event's records were changed inside one long transaction that committed at
# commitTimestamp; their SystemModstamp is earlier than the commit by up to the transaction's length.
OVERFLOW_LOOKBACK = timedelta(minutes=10)
CHANGE_TYPES = {
    "CREATE": ChangeType.CREATE, "UPDATE": ChangeType.UPDATE,
    "DELETE": ChangeType.DELETE, "UNDELETE": ChangeType.UNDELETE,
    "GAP_CREATE": ChangeType.CREATE, "GAP_UPDATE": ChangeType.UPDATE,
    "GAP_DELETE": ChangeType.DELETE, "GAP_UNDELETE": ChangeType.UNDELETE,
    "GAP_OVERFLOW": ChangeType.UPDATE,
}
SalesforceChangeType = Literal[
    "CREATE", "UPDATE", "DELETE", "UNDELETE", "GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW"
]


class _Wire(BaseModel):
    """Salesforce's JSON as published: strict types, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", strict=True, alias_generator=to_camel)


class ChangeEventHeader(_Wire):
    """Salesforce adds header fields in new API versions; an unknown one must not cost an event."""

    model_config = ConfigDict(extra="ignore", strict=True, alias_generator=to_camel)

    entity_name: str = Field(min_length=1, max_length=80)
    record_ids: list[str]
    change_type: SalesforceChangeType
    change_origin: str | None = None
    transaction_key: str = Field(min_length=1, max_length=100)
    sequence_number: int = Field(ge=0)
    commit_timestamp: int = Field(ge=0, description="epoch milliseconds")
    commit_number: int | None = None
    commit_user: str
    changed_fields: list[str] = Field(default_factory=list)
    diff_fields: list[str] = Field(default_factory=list)
    nulled_fields: list[str] = Field(default_factory=list)
    is_transaction_end: bool | None = None


class EventInfo(_Wire):
    replay_id: int
    event_uuid: str | None = Field(default=None, alias="EventUuid", min_length=1)


class EventData(_Wire):
    """The Bayeux ``data`` envelope of one event."""

    schema_id: str = Field(alias="schema", min_length=1)
    payload: dict[str, Any]
    event: EventInfo


class EventMessage(_Wire):
    """A whole Bayeux event message: its channel and its ``data`` envelope."""

    channel: str = Field(pattern=CHANNEL_PATTERN.pattern)
    data: EventData


@dataclass(frozen=True)
class ReRead:
    """Records to read from Salesforce and route: by id, or every record modified since a time."""

    object_type: str
    record_ids: tuple[str, ...]
    modified_since: datetime | None
    change_type: ChangeType | None  # None: tell create from update by the record's own dates
    source: Source
    event_key: str | None  # records read are keyed f"{event_key}:{record_id}"; None: by record id and SystemModstamp


@dataclass(frozen=True)
class Ignored:
    reason: str
    object_type: str
    record_ids: tuple[str, ...]
    event_key: str


@dataclass
class Intake:
    """What a delivery of events asks for: events to enqueue, records to read, events to drop."""

    events: list[RecordEvent] = field(default_factory=list)
    rereads: list[ReRead] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)

    def merge(self, other: Intake) -> Intake:
        self.events.extend(other.events)
        self.rereads.extend(other.rereads)
        self.ignored.extend(other.ignored)
        return self


# field names ---------------------------------------------------------------------------------
def flat_field_name(compound: str, component: str) -> str:
    """The object field behind a compound field's component, e.g. BillingAddress.Street -> BillingStreet."""
    if compound.endswith("__c"):  # custom geolocation: Location__c.Latitude -> Location__Latitude__s
        return f"{compound[:-3]}__{component}__s"
    if compound.endswith("Address"):  # Lead Address.City -> City, MailingAddress.City -> MailingCity
        return compound[: -len("Address")] + component
    return component  # Name.FirstName -> FirstName


def flatten_fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Field values with compound fields (Name, addresses, geolocations) spread into their components."""
    flat: dict[str, Any] = {}
    for name, value in payload.items():
        if name == HEADER_KEY:
            continue
        if isinstance(value, dict):
            flat.update({flat_field_name(name, part): part_value for part, part_value in value.items()})
        else:
            flat[name] = value
    return flat


def flatten_changed(names: list[str]) -> list[str]:
    """changedFields lists ``Name.LastName`` for compound components: name the object field instead."""
    return [flat_field_name(*name.split(".", 1)) if "." in name else name for name in names]


def entity_for_channel(channel: str) -> str | None:
    """The object a single-entity change channel carries: /data/LeadChangeEvent -> Lead,
    /data/Invoice__ChangeEvent -> Invoice__c; None for /data/ChangeEvents, custom channels and /event/."""
    if not channel.startswith(CHANGE_EVENT_PREFIX):
        return None
    name = channel[len(CHANGE_EVENT_PREFIX):]
    if name.endswith("__ChangeEvent"):
        return name[: -len("__ChangeEvent")] + "__c"
    if name.endswith("ChangeEvent") and name != "ChangeEvent":
        return name[: -len("ChangeEvent")]
    return None


def commit_time(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC)


def event_time(raw_data: Any) -> datetime | None:
    """When a delivered event happened: a change event's commitTimestamp, a platform event's CreatedDate."""
    payload = raw_data.get("payload") if isinstance(raw_data, dict) else None
    if not isinstance(payload, dict):
        return None
    header = payload.get(HEADER_KEY)
    stamp = header.get("commitTimestamp") if isinstance(header, dict) else None
    if isinstance(stamp, int):
        return commit_time(stamp)
    created = payload.get("CreatedDate")
    try:
        return datetime.fromisoformat(created.replace("Z", "+00:00")) if isinstance(created, str) else None
    except ValueError:
        return None


# parsing -------------------------------------------------------------------------------------
def _validation_problem(exc: ValidationError, where: str) -> InputError:
    problems = []
    for err in exc.errors():
        location = ".".join(str(part) for part in err["loc"])
        problems.append(f"{where}{'.' + location if location else ''}: {err['msg']}")
    return InputError("; ".join(problems))


def _record_event(header: ChangeEventHeader, record_id: str, fields: dict[str, Any], received_at: datetime,
                  where: str) -> RecordEvent:
    change = CHANGE_TYPES[header.change_type]
    try:
        return RecordEvent(
            object_type=header.entity_name,
            record_id=record_id,
            fields=fields,
            change_type=change,
            changed_fields=flatten_changed(header.changed_fields) if change is ChangeType.UPDATE else None,
            changed_by=header.commit_user or None,
            change_origin=header.change_origin or None,
            source=Source.CHANGE_EVENT,
            source_event_id=f"{header.transaction_key}:{header.sequence_number}:{record_id}",
            commit_timestamp=commit_time(header.commit_timestamp),
            received_at=received_at,
        )
    except ValidationError as exc:
        raise _validation_problem(exc, where) from None


def _event_fields(header: ChangeEventHeader, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Creates carry every field; updates carry the changed ones (unchanged ones may come as null)."""
    if header.change_type == "DELETE":
        return {}
    fields = flatten_fields(payload)
    if header.change_type != "UPDATE":
        return fields
    changed = set(flatten_changed(header.changed_fields))
    return {name: value for name, value in fields.items() if value is not None or name in changed}


def parse_change_event(data: EventData, received_at: datetime, where: str = "data") -> Intake:
    raw_header = data.payload.get(HEADER_KEY)
    if raw_header is None:
        raise InputError(f"{where}.payload: no {HEADER_KEY}: not a change event")
    try:
        header = ChangeEventHeader.model_validate(raw_header)
    except ValidationError as exc:
        raise _validation_problem(exc, f"{where}.payload.{HEADER_KEY}") from None
    key = f"{header.transaction_key}:{header.sequence_number}"
    ids = tuple(header.record_ids)
    if caused_by_baton(header.change_origin):
        return Intake(ignored=[Ignored(f"changeOrigin {header.change_origin!r} is Baton's own write",
                                       header.entity_name, ids, key)])
    if any(record_id.endswith("*") for record_id in ids):
        return Intake(ignored=[Ignored("wildcard recordIds (field type conversion)", header.entity_name, ids, key)])
    if header.change_type == "GAP_OVERFLOW":
        since = commit_time(header.commit_timestamp) - OVERFLOW_LOOKBACK
        return Intake(rereads=[ReRead(header.entity_name, (), since, None, Source.CHANGE_EVENT, key)])
    if not ids:
        raise InputError(f"{where}.payload.{HEADER_KEY}.recordIds: empty for a {header.change_type} event")
    if header.change_type in ("GAP_CREATE", "GAP_UPDATE", "GAP_UNDELETE"):
        change = CHANGE_TYPES[header.change_type]
        return Intake(rereads=[ReRead(header.entity_name, ids, None, change, Source.CHANGE_EVENT, key)])
    fields = _event_fields(header, data.payload)
    return Intake(events=[_record_event(header, record_id, fields, received_at, where) for record_id in ids])


def without_own_writes(intake: Intake, integration_user_id: str | None,
                       written: Mapping[str, Collection[str]] | None = None) -> Intake:
    """The intake with Baton's own writes that came back without its call option moved to ``ignored``:
    updates committed by the integration user that changed only fields Baton writes (``written``: per object,
    the routing facts and booking host fields the current org config writes beside the owner)."""
    if not integration_user_id:
        return intake
    kept = Intake(rereads=intake.rereads, ignored=list(intake.ignored))
    for event in intake.events:
        reason = own_write_echo(event.object_type, event.change_type, event.changed_by, event.changed_fields,
                                integration_user_id, written)
        if reason is None:
            kept.events.append(event)
        else:
            kept.ignored.append(Ignored(reason, event.object_type, (event.record_id,), event.source_event_id))
    return kept


def parse_platform_event(data: EventData, channel: str | None, where: str = "data") -> Intake:
    payload = data.payload
    object_type, record_id = payload.get(PLATFORM_OBJECT_FIELD), payload.get(PLATFORM_RECORD_FIELD)
    missing = [name for name, value in ((PLATFORM_OBJECT_FIELD, object_type), (PLATFORM_RECORD_FIELD, record_id))
               if not isinstance(value, str) or not value]
    if missing:
        raise InputError(f"{where}.payload: platform event without {' and '.join(missing)}")
    raw_change = payload.get(PLATFORM_CHANGE_FIELD) or PLATFORM_DEFAULT_CHANGE.value
    try:
        change = ChangeType(str(raw_change).lower())
    except ValueError:
        change = None
    if change not in PLATFORM_CHANGES:
        allowed = ", ".join(sorted(c.value.upper() for c in PLATFORM_CHANGES))
        raise InputError(f"{where}.payload.{PLATFORM_CHANGE_FIELD}: {raw_change!r} is not one of {allowed}")
    key = data.event.event_uuid or f"{channel or data.schema_id}:{data.event.replay_id}"
    return Intake(rereads=[ReRead(object_type, (record_id,), None, change, Source.PLATFORM_EVENT, key)])  # type: ignore[arg-type]


def parse_delivery(channel: str | None, raw_data: Any, received_at: datetime, where: str = "data") -> Intake:
    """One delivered event (its ``data`` envelope); the channel, when known, says which kind it is."""
    try:
        data = EventData.model_validate(raw_data)
    except ValidationError as exc:
        raise _validation_problem(exc, where) from None
    return _parse_data(channel, data, received_at, where)


def _parse_data(channel: str | None, data: EventData, received_at: datetime, where: str) -> Intake:
    is_change = HEADER_KEY in data.payload
    if channel is not None and channel.startswith(CHANGE_EVENT_PREFIX) != is_change:
        expected = "a change event" if channel.startswith(CHANGE_EVENT_PREFIX) else "a platform event"
        raise InputError(f"{where}.payload: channel {channel} carries {expected}, this is not one")
    if is_change:
        return parse_change_event(data, received_at, where)
    return parse_platform_event(data, channel, where)


def parse_posted(body: Any, received_at: datetime, max_events: int) -> Intake:
    """A relay's POST body: one event or a list, each a Bayeux message ({channel, data}) or its ``data``."""
    items = body if isinstance(body, list) else [body]
    if not items:
        raise InputError("events: empty list")
    if len(items) > max_events:
        raise InputError(f"events: {len(items)} events, at most {max_events} allowed per request")
    intake = Intake()
    for index, item in enumerate(items):
        where = f"events[{index}]" if isinstance(body, list) else "event"
        if not isinstance(item, dict):
            raise InputError(f"{where}: expected a JSON object")
        if "channel" in item:
            try:
                message = EventMessage.model_validate(item)
            except ValidationError as exc:
                raise _validation_problem(exc, where) from None
            intake.merge(_parse_data(message.channel, message.data, received_at, f"{where}.data"))
        else:
            intake.merge(parse_delivery(None, item, received_at, where))
    return intake
