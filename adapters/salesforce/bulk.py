"""Bulk API 2.0 through simple-salesforce's session: query jobs read in CSV pages by locator, owners written
by ingest jobs (operation ``update``, CSV ``Id,OwnerId`` and the routing facts' fields an object maps).

Salesforce runs no assignment rule for a Bulk API 2.0 ingest job unless the job names an ``assignmentRuleId``;
Baton never names one, so the owner Baton decided is the owner written. Reads (job state, result pages) are
retried a few times on 5xx, 429 and network errors (a locator names the same page every time); a call that still
fails raises ``TransientError``, any other refusal ``PermanentError``.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
import structlog
from simple_salesforce import Salesforce

from adapters.salesforce.writer import BATON_HEADERS, TRANSIENT_CODES, TRANSIENT_HTTP
from kernel.errors import PermanentError, TransientError
from kernel.ports import OwnerChange, WriteResult

log = structlog.get_logger(__name__)
JSON_TYPE = "application/json"
CSV_TYPE = "text/csv"
HTTP_TIMEOUT_S = 120
READ_ATTEMPTS = 4
READ_RETRY_S = 0.2
MAX_POLL_MS = 30_000
MAX_JOB_WAIT_S = 6 * 3600
MAX_UPLOAD_BYTES = 90_000_000  # Salesforce takes up to 100 MB of CSV per ingest job (150 MB base64)
DONE_STATES = frozenset({"JobComplete", "Failed", "Aborted"})


class BulkJobGone(PermanentError):
    """Salesforce no longer knows the job (it deletes jobs and their results after 7 days)."""


@dataclass(frozen=True)
class IngestResult:
    """One ingest job's outcome: records that failed (id -> ``CODE: message``) and records never processed."""

    job_id: str
    state: str
    processed: int
    failed: dict[str, str]
    unprocessed: frozenset[str]


def parse_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


NULL_CELL = "#N/A"  # Bulk API 2.0: a field set to null (an empty cell leaves the field as it is)


def _cell(value: Any) -> str:
    if value is None:
        return NULL_CELL
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


OwnerRow = tuple[str, str, Mapping[str, Any] | None]  # record id, owner id, routing fact field values (or None)


def owners_csv(changes: Sequence[OwnerRow]) -> str:
    """``Id,OwnerId`` and a column per routing fact field any change carries: a null fact ``#N/A``, a field
    a change does not carry left empty (unchanged)."""
    columns: dict[str, None] = {}
    for _, _, fields in changes:
        columns.update(dict.fromkeys(fields or ()))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("Id", "OwnerId", *columns))
    for record_id, owner_id, fields in changes:
        values = fields or {}
        writer.writerow((record_id, owner_id, *(_cell(values[name]) if name in values else "" for name in columns)))
    return buffer.getvalue()


def _error_detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    first = body[0] if isinstance(body, list) and body else body
    if isinstance(first, dict):
        return f"{first.get('errorCode', 'UNKNOWN')}: {first.get('message', '')}"
    return str(body)[:300]


class BulkClient:
    """Query and ingest jobs of one org; waits between job state checks grow from ``poll_ms`` to 30 s."""

    def __init__(self, salesforce: Salesforce, poll_ms: int = 2_000, sleep: Callable[[float], None] = time.sleep):
        self._salesforce = salesforce
        self._poll_ms = poll_ms
        self._sleep = sleep
        self._usage: tuple[int, int] | None = None

    def api_usage(self) -> tuple[int, int] | None:
        """(requests used, daily limit) from the last Sforce-Limit-Info header seen."""
        return self._usage

    def refresh_usage(self) -> tuple[int, int] | None:
        """Asks the org for its daily API requests now (the REST ``limits`` resource)."""
        body = self._call("GET", "limits/", base_url=self._salesforce.base_url).json()
        daily = body.get("DailyApiRequests") if isinstance(body, dict) else None
        if isinstance(daily, dict) and "Max" in daily and "Remaining" in daily:
            self._usage = (int(daily["Max"]) - int(daily["Remaining"]), int(daily["Max"]))
        return self._usage

    # query -------------------------------------------------------------------------------------------
    def start_query(self, soql: str) -> str:
        body = self._call("POST", "query", json_body={"operation": "query", "query": soql}).json()
        log.info("bulk_query_started", job_id=body["id"], object=body.get("object"))
        return str(body["id"])

    def query_pages(self, job_id: str, max_records: int | None = None) -> Iterator[list[dict[str, str]]]:
        """The query's records, one results page (``Sforce-Locator``) at a time, once the job is complete."""
        info = self._wait("query", job_id)
        if info["state"] != "JobComplete":
            raise PermanentError(f"Bulk query job {job_id} ended {info['state']}: {info.get('errorMessage', '')}")
        locator: str | None = ""
        while locator is not None:
            params: dict[str, Any] = {"locator": locator} if locator else {}
            if max_records:
                params["maxRecords"] = max_records
            response = self._read(f"query/{job_id}/results", params=params, accept=CSV_TYPE)
            next_locator = response.headers.get("Sforce-Locator", "null")
            locator = None if next_locator in ("", "null") else next_locator
            yield parse_csv(response.content.decode("utf-8"))

    # ingest ------------------------------------------------------------------------------------------
    def update_owners(self, object_type: str, changes: Sequence[OwnerRow]) -> IngestResult:
        """One ingest job setting OwnerId on ``changes`` (record id, owner id, and the routing facts' field
        values when there are any); waits until it is done."""
        data = owners_csv(changes)
        if len(data.encode()) > MAX_UPLOAD_BYTES:
            raise PermanentError(f"{len(changes)} owner changes exceed one ingest job's upload limit")
        job = self._call("POST", "ingest", json_body={
            "object": object_type, "operation": "update", "contentType": "CSV", "lineEnding": "LF",
            "columnDelimiter": "COMMA",
        }).json()
        job_id = str(job["id"])
        self._call("PUT", f"ingest/{job_id}/batches", data=data.encode(), content_type=CSV_TYPE)
        self._call("PATCH", f"ingest/{job_id}", json_body={"state": "UploadComplete"})
        info = self._wait("ingest", job_id)
        if info["state"] == "Aborted":
            raise TransientError(f"ingest job {job_id} was aborted")
        failed = {row.get("Id") or row.get("sf__Id", ""): _failure(row)
                  for row in parse_csv(self._read(f"ingest/{job_id}/failedResults", accept=CSV_TYPE).text)}
        processed = int(info.get("numberRecordsProcessed") or 0)
        unprocessed: frozenset[str] = frozenset()
        if processed < len(changes):
            rows = parse_csv(self._read(f"ingest/{job_id}/unprocessedrecords", accept=CSV_TYPE).text)
            unprocessed = frozenset(row["Id"] for row in rows)
        log.info("bulk_ingest_done", job_id=job_id, state=info["state"], records=len(changes), processed=processed,
                 failed=len(failed), unprocessed=len(unprocessed))
        return IngestResult(job_id, str(info["state"]), processed, failed, unprocessed)

    # http --------------------------------------------------------------------------------------------
    def _wait(self, kind: str, job_id: str) -> dict[str, Any]:
        delay_ms = self._poll_ms
        deadline = time.monotonic() + MAX_JOB_WAIT_S
        while time.monotonic() < deadline:
            self._sleep(delay_ms / 1000)
            info: dict[str, Any] = self._read(f"{kind}/{job_id}").json()
            if info["state"] in DONE_STATES:
                return info
            delay_ms = min(MAX_POLL_MS, delay_ms * 2)
        raise TransientError(f"Bulk {kind} job {job_id} not done after {MAX_JOB_WAIT_S} s")

    def _read(self, path: str, params: dict[str, Any] | None = None, accept: str = JSON_TYPE) -> requests.Response:
        """A GET, retried with backoff on transient failures (reads change nothing)."""
        for attempt in range(READ_ATTEMPTS):
            try:
                return self._call("GET", path, params=params, accept=accept)
            except TransientError as exc:
                if attempt + 1 == READ_ATTEMPTS:
                    raise
                log.warning("bulk_read_retried", path=path, attempt=attempt + 1, error=str(exc))
                self._sleep(READ_RETRY_S * 2**attempt)
        raise AssertionError("unreachable")

    def _call(self, method: str, path: str, *, json_body: Any = None, data: bytes | None = None,
              params: dict[str, Any] | None = None, content_type: str = JSON_TYPE,
              accept: str = JSON_TYPE, base_url: str | None = None) -> requests.Response:
        headers = {**self._salesforce.headers, **BATON_HEADERS, "Content-Type": content_type, "Accept": accept}
        url = (base_url or self._salesforce.bulk2_url) + path
        try:
            response = self._salesforce.session.request(
                method, url, headers=headers, json=json_body, data=data, params=params, timeout=HTTP_TIMEOUT_S,
            )
        except requests.RequestException as exc:
            raise TransientError(f"Bulk API {method} {path}: {exc}") from exc
        limit_info = response.headers.get("Sforce-Limit-Info")
        usage = Salesforce.parse_api_usage(limit_info).get("api-usage") if limit_info else None
        if usage is not None:
            self._usage = (int(usage.used), int(usage.total))
        if response.status_code in TRANSIENT_HTTP:
            raise TransientError(f"Bulk API {method} {path} answered {response.status_code}: {_error_detail(response)}")
        if response.status_code == 404:
            raise BulkJobGone(f"Bulk API {method} {path}: {_error_detail(response)}")
        if response.status_code >= 300:
            raise PermanentError(f"Bulk API {method} {path} answered {response.status_code}: {_error_detail(response)}")
        return response


def _failure(row: dict[str, str]) -> str:
    """``sf__Error`` reads ``CODE:message:fields``; kept as ``CODE: message``."""
    code, _, rest = (row.get("sf__Error") or "UNKNOWN").partition(":")
    return f"{code}: {rest.rsplit(':', 1)[0] if ':' in rest else rest}"


class BulkOwnerWriter:
    """The owner writer of batch jobs: one ingest job per object type for all the changes it is given.

    A record named twice is written once, with its newest owner (the older row is ``superseded``). Rows whose
    record failed with a transient code (UNABLE_TO_LOCK_ROW) or was never processed come back as ``retry``;
    other failures (ENTITY_IS_DELETED, …) as ``rejected``, logged.
    """

    def __init__(self, client: BulkClient):
        self._client = client

    def api_usage(self) -> tuple[int, int] | None:
        return self._client.api_usage()

    def write(self, changes: Sequence[OwnerChange]) -> list[WriteResult]:
        newest: dict[tuple[str, str], OwnerChange] = {}
        for change in changes:
            newest[(change.object_type, change.record_id)] = change
        results = [WriteResult(c.routing_id, True, "superseded") for c in changes
                   if newest[(c.object_type, c.record_id)] is not c]
        by_object: dict[str, list[OwnerChange]] = {}
        for change in newest.values():
            by_object.setdefault(change.object_type, []).append(change)
        for object_type, group in by_object.items():
            results.extend(self._write_object(object_type, group))
        return results

    def _write_object(self, object_type: str, group: list[OwnerChange]) -> list[WriteResult]:
        try:
            outcome = self._client.update_owners(object_type, [(c.record_id, c.owner_id, c.fields) for c in group])
        except TransientError as exc:
            return [WriteResult(c.routing_id, False, "retry", str(exc)) for c in group]
        except PermanentError as exc:
            return [WriteResult(c.routing_id, False, "failed", str(exc)) for c in group]
        return [_row_result(change, outcome) for change in group]


def _row_result(change: OwnerChange, outcome: IngestResult) -> WriteResult:
    error = outcome.failed.get(change.record_id)
    if error is None and change.record_id in outcome.unprocessed:
        return WriteResult(change.routing_id, False, "retry", f"not processed by ingest job {outcome.job_id}")
    if error is None:
        return WriteResult(change.routing_id, True, "sent")
    if error.split(":", 1)[0] in TRANSIENT_CODES:
        return WriteResult(change.routing_id, False, "retry", error)
    log.warning("owner_write_rejected", record_id=change.record_id, error=error, ingest_job_id=outcome.job_id)
    return WriteResult(change.routing_id, True, "rejected", error)
