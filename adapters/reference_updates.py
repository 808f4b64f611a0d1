"""Keeps Baton's synced copy current from change events and outbound messages, between syncs.

A User, Account, Contact or Lead event from Salesforce (an outbound message or a change event, not a
file or API call, whose fields may be anyone's test data) writes the fields it carries into the copy,
only over an older version: its ``SystemModstamp`` field when present, else its commit timestamp.
A delete leaves a tombstone, so a late, older event cannot bring the record back; an undelete lifts it.
Events without either time are skipped (nothing to order them by); the next sync brings the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import structlog

from adapters.salesforce.reference_records import SYNCED_OBJECTS, SyncOptions, salesforce_datetime
from kernel.clock import Clock, utc_now
from kernel.ports.reference_sync import ReferenceSyncRepository, SyncedWrite
from messages import ChangeType, RecordEvent, Source

log = structlog.get_logger(__name__)
SALESFORCE_SOURCES = frozenset({Source.OUTBOUND_MESSAGE, Source.CHANGE_EVENT})


class StoreReferenceUpdates:
    """Writes what events say about synced objects into the store, one transaction per batch."""

    def __init__(self, copy: ReferenceSyncRepository, options: SyncOptions | None = None, clock: Clock = utc_now):
        self._copy = copy
        self._options = options or SyncOptions()
        self._clock = clock

    def apply(self, events: Sequence[RecordEvent]) -> int:
        now = self._clock()
        newest: dict[tuple[str, str], SyncedWrite] = {}
        for event in events:
            row = self._row(event, now)
            if row is None:
                continue
            key = (event.object_type, row.id)
            if key not in newest or newest[key].system_modstamp < row.system_modstamp:
                newest[key] = row
        if not newest:
            return 0
        with self._copy.writes() as tx:
            for object_type in SYNCED_OBJECTS:
                rows = [row for (kind, _), row in newest.items() if kind == object_type]
                if rows:
                    tx.upsert_synced(object_type, rows, newer_only=True)
        log.debug("reference_updated", rows=len(newest))
        return len(newest)

    def _row(self, event: RecordEvent, now: datetime) -> SyncedWrite | None:
        if event.object_type not in SYNCED_OBJECTS or event.source not in SALESFORCE_SOURCES:
            return None
        try:
            stamp = salesforce_datetime(event.fields.get("SystemModstamp")) or event.commit_timestamp
        except ValueError:
            stamp = event.commit_timestamp
        if stamp is None:
            return None
        row = self._options.row(event.object_type, event.record_id, event.fields, stamp, now, partial=True)
        if event.change_type == ChangeType.DELETE:
            return replace(row, columns={**row.columns, "removed_reason": "deleted"})
        if event.change_type == ChangeType.UNDELETE:  # back from the recycle bin, unless its fields say closed
            return replace(row, columns={"removed_reason": None, **row.columns})
        return row
