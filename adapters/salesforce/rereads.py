"""Reading records back with SOQL (simple-salesforce ``query_all``) and turning them into record events.

Gap events, overflow events, platform events and the catch-up after an expired replay id name records
without their field values. Baton reads every field the object's describe lists (compound address and
location fields are skipped: their components are listed on their own) and routes the current state.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import requests
import structlog
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from adapters.files import build_event
from adapters.salesforce.change_events import Intake, ReRead, without_own_writes
from adapters.salesforce.outbound import change_from_dates, from_salesforce
from kernel.errors import ConfigError, InputError, PermanentError, SessionInvalid, TransientError
from kernel.ports.describes import DescribeRepository
from messages import RecordEvent

log = structlog.get_logger(__name__)

IDS_PER_QUERY = 200
FIELDS_KEPT_S = 300.0  # how long a reader keeps an object's field list before reading the store again
SKIPPED_FIELD_TYPES = frozenset({"address", "location", "base64"})
TRANSIENT_HTTP = frozenset({408, 429, 500, 502, 503, 504})
_OBJECT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
_RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


class RecordReader(Protocol):
    """Reads current records (every field, ``Id`` included) from Salesforce."""

    def by_ids(self, object_type: str, record_ids: Sequence[str]) -> list[dict[str, Any]]: ...

    def modified_since(self, object_type: str, since: datetime) -> list[dict[str, Any]]: ...


# SOQL text (pure) ----------------------------------------------------------------------------
def checked_object(object_type: str) -> str:
    if not _OBJECT_NAME.match(object_type):
        raise InputError(f"{object_type!r} is not an object API name")
    return object_type


def soql_datetime(value: datetime) -> str:
    """A SOQL dateTime literal, in UTC, whole seconds (rounded down: ``>=`` keeps the boundary)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def select_by_ids(object_type: str, fields: Sequence[str], record_ids: Sequence[str]) -> str:
    bad = [record_id for record_id in record_ids if not _RECORD_ID.match(record_id)]
    if bad:
        raise InputError(f"not Salesforce record ids: {', '.join(map(repr, bad))}")
    id_list = ", ".join(f"'{record_id}'" for record_id in record_ids)
    return f"SELECT {', '.join(fields)} FROM {checked_object(object_type)} WHERE Id IN ({id_list})"


def select_modified_since(object_type: str, fields: Sequence[str], since: datetime) -> str:
    return (f"SELECT {', '.join(fields)} FROM {checked_object(object_type)} "
            f"WHERE SystemModstamp >= {soql_datetime(since)} ORDER BY SystemModstamp, Id")


def queryable_fields(describe: dict[str, Any]) -> list[str]:
    """Field names from an sObject describe, without compound fields (their parts are listed too)."""
    return [item["name"] for item in describe.get("fields", []) if item.get("type") not in SKIPPED_FIELD_TYPES]


# I/O -----------------------------------------------------------------------------------------
def salesforce_failure(exc: Exception, what: str) -> Exception:
    if isinstance(exc, requests.RequestException):
        return TransientError(f"{what}: Salesforce unreachable: {exc}")
    status = getattr(exc, "status", None)
    if status == 401:
        return SessionInvalid(f"{what}: session refused")
    if status in TRANSIENT_HTTP:
        return TransientError(f"{what}: Salesforce answered {status}")
    return PermanentError(f"{what}: Salesforce answered {status}: {getattr(exc, 'content', exc)}")


class SoqlRecordReader:
    """RecordReader over simple-salesforce. Which fields to read comes from the describe ``baton sync`` stored
    (``describes``); only an object with no stored describe is described here, live. Either answer is kept for
    ``FIELDS_KEPT_S``, so a describe the sync refreshed is read within minutes."""

    def __init__(self, salesforce: Salesforce, describes: DescribeRepository | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self._salesforce = salesforce
        self._describes = describes
        self._clock = clock
        self._fields: dict[str, tuple[list[str], float]] = {}

    def fields(self, object_type: str) -> list[str]:
        kept = self._fields.get(object_type)
        if kept is not None and self._clock() - kept[1] < FIELDS_KEPT_S:
            return kept[0]
        stored = self._describes.get(checked_object(object_type)) if self._describes is not None else None
        if stored is not None and stored.queryable_fields:
            fields = list(stored.queryable_fields)
        else:
            path = f"sobjects/{checked_object(object_type)}/describe"
            try:
                describe = self._salesforce.restful(path)
            except (SalesforceError, requests.RequestException) as exc:
                raise salesforce_failure(exc, f"describe {object_type}") from exc
            fields = queryable_fields(describe or {})
            log.info("describe_live", object_type=object_type, reason="no describe stored: run baton sync")
        self._fields[object_type] = (fields, self._clock())
        return fields

    def by_ids(self, object_type: str, record_ids: Sequence[str]) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for start in range(0, len(record_ids), IDS_PER_QUERY):
            chunk = record_ids[start : start + IDS_PER_QUERY]
            records.extend(self._query(select_by_ids(object_type, self.fields(object_type), chunk)))
        return records

    def modified_since(self, object_type: str, since: datetime) -> list[dict[str, Any]]:
        return self._query(select_modified_since(object_type, self.fields(object_type), since))

    def selected(self, object_type: str, fields: Sequence[str], record_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Only these fields (relationship fields such as ``Owner.Name`` come back nested)."""
        return self._query(select_by_ids(object_type, fields, record_ids))

    def api_usage(self) -> tuple[int, int] | None:
        """(used, daily limit) from the last answer's Sforce-Limit-Info, if it had one."""
        usage = self._salesforce.api_usage.get("api-usage")
        return (int(usage.used), int(usage.total)) if usage is not None else None

    def _query(self, soql: str) -> list[dict[str, Any]]:
        try:
            result = self._salesforce.query_all(soql)
        except (SalesforceError, requests.RequestException) as exc:
            raise salesforce_failure(exc, "SOQL query") from exc
        return [{k: v for k, v in record.items() if k != "attributes"} for record in result.get("records", [])]


# records -> events (pure) --------------------------------------------------------------------
def events_for(reread: ReRead, records: Iterable[dict[str, Any]], received_at: datetime,
               integration_user_id: str | None = None) -> list[RecordEvent]:
    """One event per record read; a record last changed by Baton's integration user is marked as Baton's."""
    events = []
    for record in records:
        record_id = record.get("Id")
        fields = {key: value for key, value in record.items() if key != "Id"}
        event_id = f"{reread.event_key}:{record_id}" if reread.event_key else None
        try:
            event = build_event(reread.object_type, record_id, fields, event_id, received_at,
                                reread.change_type or change_from_dates(fields))
        except ValueError as exc:
            raise PermanentError(f"{reread.object_type} {record_id} as read: {exc}") from None
        events.append(from_salesforce(event, reread.source, integration_user_id))
    return events


def resolve(rereads: Iterable[ReRead], reader: RecordReader, received_at: datetime,
            integration_user_id: str | None = None) -> list[RecordEvent]:
    """Reads what each request names and returns the events; records no longer there are logged."""
    events: list[RecordEvent] = []
    for reread in rereads:
        if reread.record_ids:
            records = reader.by_ids(reread.object_type, reread.record_ids)
            found = {str(record.get("Id", ""))[:15] for record in records}
            missing = [record_id for record_id in reread.record_ids if record_id[:15] not in found]
            if missing:
                log.warning("reread_missing", object_type=reread.object_type, record_ids=missing,
                            reason="not found (deleted, or not visible to Baton's user)")
        else:
            records = reader.modified_since(reread.object_type, reread.modified_since or received_at)
        log.info("reread", object_type=reread.object_type, records=len(records),
                 since=reread.modified_since.isoformat() if reread.modified_since else None)
        events.extend(events_for(reread, records, received_at, integration_user_id))
    return events


def record_events(intake: Intake, reader: RecordReader | None, received_at: datetime,
                  integration_user_id: str | None = None, skip_unreadable: bool = False,
                  written: Mapping[str, Collection[str]] | None = None) -> list[RecordEvent]:
    """Everything a delivery asks to route: its own events plus the records it names, read now.

    Ignored events (Baton's own changes: by ``changeOrigin``, or updates by ``integration_user_id`` of only
    fields Baton writes, the ``written`` routing facts and booking host fields among them) are logged here and never enqueued. A request that cannot be
    read for good (unknown object, malformed record) raises PermanentError, or with ``skip_unreadable``
    is logged and skipped so one bad event cannot stop a stream.
    """
    intake = without_own_writes(intake, integration_user_id, written)
    for ignored in intake.ignored:
        log.info("change_event_ignored", reason=ignored.reason, object_type=ignored.object_type,
                 record_ids=list(ignored.record_ids), event_key=ignored.event_key)
    if intake.rereads and reader is None:
        kinds = sorted({f"{r.source.value} for {r.object_type}" for r in intake.rereads})
        raise ConfigError([("BATON_SALESFORCE_CLIENT_ID",
                            f"records must be read from Salesforce ({', '.join(kinds)}), but no connected app is set")])
    events = list(intake.events)
    for reread in intake.rereads:
        try:
            events.extend(resolve([reread], reader, received_at, integration_user_id))  # type: ignore[arg-type]
        except SessionInvalid:
            raise
        except PermanentError as exc:
            if not skip_unreadable:
                raise
            log.error("change_event_rejected", object_type=reread.object_type, event_key=reread.event_key,
                      reason=str(exc))
    return events
