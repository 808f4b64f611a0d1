"""Incremental sync of users, accounts, contacts and leads into Baton's store, resumable page by page.

Per object: ``SELECT <fields> FROM <Object> WHERE <after the position> AND SystemModstamp <= <now -
settle> ORDER BY SystemModstamp, Id``, then ``nextRecordsUrl`` pages. The position is the last
(SystemModstamp, Id) written; "after" it is ``SystemModstamp > :stamp OR (SystemModstamp = :stamp
AND Id > :id)``, so records sharing a timestamp across a page boundary (Salesforce keeps whole
seconds) are neither skipped nor read twice. Each page and the new position commit in one
transaction: an interrupted sync resumes exactly where it stopped.

The settle window leaves out changes younger than ``settle_s``: a transaction in flight can commit
with a SystemModstamp older than rows already read, and would be skipped for good otherwise.

Deletions: once an object has a position, the sync reads ``queryAll`` (deleted records too, while in
the recycle bin) and keeps deleted records, converted leads and closed leads as tombstones that
matching skips. ``full=True`` starts over and, at the end of the pass, drops rows it did not see
(records purged from the recycle bin, or deleted while no sync ran).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import requests
import structlog
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from adapters.salesforce.reference_records import (
    DELETABLE_OBJECTS,
    SyncOptions,
    salesforce_datetime,
    soql_datetime,
)
from adapters.salesforce.writer import TRANSIENT_HTTP
from kernel.clock import Clock, utc_now
from kernel.errors import PermanentError, TransientError
from kernel.ports.reference_sync import ReferenceSyncRepository, SyncPosition

log = structlog.get_logger(__name__)
DEFAULT_SETTLE_S = 60.0
ORDER = "ORDER BY SystemModstamp, Id"

# object type, records in the page just written, the query's totalSize
PageCallback = Callable[[str, int, int], None]


@dataclass
class ObjectSyncResult:
    object_type: str
    written: int = 0
    removed: int = 0
    swept: int = 0
    pages: int = 0
    total: int = 0
    position: SyncPosition | None = None


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def build_query(object_type: str, options: SyncOptions, position: SyncPosition, until: datetime) -> str:
    """The SOQL for the rest of ``object_type`` after ``position``, up to ``until``."""
    conditions = [f"SystemModstamp <= {soql_datetime(until)}"]
    if position.last_modstamp is not None:
        stamp = soql_datetime(position.last_modstamp)
        after = f"SystemModstamp > {stamp}"
        if position.last_id:
            after = f"({after} OR (SystemModstamp = {stamp} AND Id > {_quoted(position.last_id)}))"
        conditions.insert(0, after)
    elif object_type == "Lead":
        conditions.append("IsConverted = false")  # a first pass needs open leads only
    fields = ", ".join(options.soql_fields(object_type))
    return f"SELECT {fields} FROM {object_type} WHERE {' AND '.join(conditions)} {ORDER}"


class ReferenceSync:
    """Syncs one object at a time from a simple-salesforce session into the store."""

    def __init__(self, salesforce: Salesforce, copy: ReferenceSyncRepository, options: SyncOptions | None = None,
                 clock: Clock = utc_now, settle_s: float = DEFAULT_SETTLE_S):
        self._salesforce = salesforce
        self._copy = copy
        self._options = options or SyncOptions()
        self._clock = clock
        self._settle = timedelta(seconds=settle_s)

    def run(self, object_type: str, *, full: bool = False, on_page: PageCallback | None = None) -> ObjectSyncResult:
        """Reads every change since the stored position; raises TransientError when Salesforce fails mid-way."""
        started = self._clock()
        if full:
            with self._copy.writes() as tx:
                tx.save_sync_position(SyncPosition(object_type, sweep_before=started), started)
        position = self._copy.position(object_type) or SyncPosition(object_type)
        until = started - self._settle
        soql = build_query(object_type, self._options, position, until)
        include_deleted = object_type in DELETABLE_OBJECTS and position.last_modstamp is not None
        result = ObjectSyncResult(object_type, position=position)
        page = self._call(lambda: self._salesforce.query(soql, include_deleted=include_deleted))
        result.total = int(page.get("totalSize", 0))
        while True:
            self._write_page(object_type, page, until, result)
            if on_page is not None:
                on_page(object_type, len(page.get("records", [])), result.total)
            if page.get("done", True):
                break
            next_url = page["nextRecordsUrl"]
            page = self._call(lambda: self._salesforce.query_more(next_url, identifier_is_url=True))
        log.info("sync_done", object_type=object_type, written=result.written, removed=result.removed,
                 swept=result.swept, pages=result.pages, full=full)
        return result

    def _write_page(self, object_type: str, page: dict[str, Any], until: datetime, result: ObjectSyncResult) -> None:
        now = self._clock()
        records = page.get("records", [])
        rows = []
        for record in records:
            stamp = salesforce_datetime(record.get("SystemModstamp"))
            if stamp is None or not record.get("Id"):
                raise PermanentError(f"{object_type} record without Id or SystemModstamp: {record!r:.200}")
            rows.append(self._options.row(object_type, record["Id"], record, stamp, now))
        position = result.position or SyncPosition(object_type)
        if rows:
            position = replace(position, last_modstamp=rows[-1].system_modstamp, last_id=rows[-1].id)
        swept = 0
        with self._copy.writes() as tx:
            tx.upsert_synced(object_type, rows, newer_only=False)
            if page.get("done", True) and position.sweep_before is not None:
                swept = tx.sweep_synced(object_type, position.sweep_before, until)
                position = replace(position, sweep_before=None)
            tx.save_sync_position(position, now)
        removed = sum(1 for row in rows if row.removed_reason)
        result.pages += 1
        result.written += len(rows) - removed
        result.removed += removed
        result.swept += swept
        result.position = position
        log.info("sync_page", object_type=object_type, records=len(rows), removed=removed, swept=swept,
                 last_modstamp=position.last_modstamp and position.last_modstamp.isoformat(),
                 last_id=position.last_id)

    @staticmethod
    def _call(request: Callable[[], Any]) -> dict[str, Any]:
        try:
            return dict(request())
        except SalesforceError as exc:
            if exc.status in TRANSIENT_HTTP:
                raise TransientError(f"Salesforce answered {exc.status} to a query: {exc.content}") from exc
            raise PermanentError(f"Salesforce refused a query ({exc.status}): {exc.content}") from exc
        except requests.RequestException as exc:
            raise TransientError(f"Salesforce query failed: {exc}") from exc
