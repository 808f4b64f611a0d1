"""A CDC UPDATE carries only the fields that changed; routing needs the whole record.

Before such an event is routed, its fields are laid over the record as Baton knows it: its synced copy
(``sf_leads``, ``sf_contacts``, ``sf_accounts``, ``sf_users``), else the record read from Salesforce now, all
of one delivery's unknown records of an object in one SOQL query per 200 ids. The event's own values win;
its ``changed_fields`` stay as they were, so routing still knows what changed. A record that can be found
in neither place is routed on the event's fields alone, and logged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
import structlog

from adapters.salesforce.reference_records import FIELDS, long_id
from adapters.salesforce.rereads import RecordReader
from adapters.store import Store
from adapters.store.tables import SYNCED_TABLES
from kernel.errors import PermanentError, SessionInvalid
from messages import ChangeType, RecordEvent, Source

log = structlog.get_logger(__name__)
DELETED = "deleted"


def is_partial(event: RecordEvent) -> bool:
    return event.source is Source.CHANGE_EVENT and event.change_type is ChangeType.UPDATE


def _salesforce_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def synced_fields(object_type: str, row: dict[str, Any]) -> dict[str, Any]:
    """A synced row in Salesforce field names (only the fields the copy keeps)."""
    return {name: _salesforce_value(row[column]) for name, (column, _) in FIELDS[object_type].items()
            if row.get(column) is not None}


def synced_copies(store: Store, object_type: str, record_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """18-character id -> fields of the records the copy holds and Salesforce has not deleted."""
    table = SYNCED_TABLES.get(object_type)
    if table is None or not record_ids:
        return {}
    query = sa.select(table).where(table.c.id.in_({long_id(record_id) for record_id in record_ids}),
                                   sa.or_(table.c.removed_reason.is_(None), table.c.removed_reason != DELETED))
    with store.engine.connect() as connection:
        return {row.id: synced_fields(object_type, dict(row._mapping)) for row in connection.execute(query)}


def _read(reader: RecordReader, object_type: str, record_ids: list[str]) -> dict[str, dict[str, Any]]:
    """18-character id -> fields as read now; a read Salesforce refuses for good is logged, not raised
    (one unreadable object must not stop a stream); transient trouble raises, so the delivery is retried."""
    try:
        records = reader.by_ids(object_type, record_ids)
    except SessionInvalid:
        raise
    except PermanentError as exc:
        log.warning("partial_update_unreadable", object_type=object_type, records=len(record_ids), reason=str(exc))
        return {}
    return {long_id(str(record.get("Id", ""))): {key: value for key, value in record.items() if key != "Id"}
            for record in records}


def complete_updates(events: Sequence[RecordEvent], store: Store, reader: RecordReader | None) -> list[RecordEvent]:
    """The events, each partial update laid over the record's synced copy or the record as read now."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if is_partial(event):
            wanted[event.object_type].add(event.record_id)
    if not wanted:
        return list(events)
    known: dict[tuple[str, str], dict[str, Any]] = {}
    for object_type, ids in wanted.items():
        copies = synced_copies(store, object_type, sorted(ids))
        unknown = sorted(record_id for record_id in ids if long_id(record_id) not in copies)
        read: dict[str, dict[str, Any]] = {}
        if unknown and reader is not None:
            read = _read(reader, object_type, unknown)
        log.info("partial_updates_completed", object_type=object_type, records=len(ids), from_copy=len(copies),
                 read=len(read), missing=len(unknown) - len(read))
        for record_id in ids:
            base = copies.get(long_id(record_id)) or read.get(long_id(record_id))
            if base is not None:
                known[(object_type, record_id)] = base
    completed = []
    for event in events:
        base = known.get((event.object_type, event.record_id)) if is_partial(event) else None
        completed.append(event if base is None else event.model_copy(update={"fields": {**base, **event.fields}}))
    return completed
