"""What a reassign job reads: Bulk API 2.0 query result pages or a CSV file, turned into reassign events.

A CSV file is routed on its own columns (an ``Id`` column, the other columns as fields, ``OwnerId`` the current
owner): no API call reads it. Export the fields your routing config reads; an Id-only file routes on the Id alone.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import structlog
from pydantic import ValidationError

from adapters.salesforce.bulk import BulkClient, BulkJobGone
from baton.assignment.reassign.jobs import SOURCE_SOQL, source_event_id
from kernel.errors import InputError
from kernel.ports.operations import ReassignJob, ReassignJobRepository
from messages import ChangeType, RecordEvent, Source

log = structlog.get_logger(__name__)
CSV_PAGE_ROWS = 10_000
REQUIRED_FIELDS = ("Id", "OwnerId")
SELECT_LIST = re.compile(r"^\s*select\s+(?P<fields>.+?)\s+from\s+(?P<object>\w+)\b", re.IGNORECASE | re.DOTALL)


@dataclass
class Page:
    """One page of records: their events, current owners, and the rows that could not be routed."""

    events: list[RecordEvent] = field(default_factory=list)
    owners: dict[str, str | None] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)


def prepare_soql(soql: str) -> tuple[str, str]:
    """(query selecting Id and OwnerId too, its object); InputError when it is not a SELECT … FROM Object."""
    parsed = SELECT_LIST.match(soql)
    if parsed is None:
        raise InputError("--soql: expected SELECT fields FROM Object …")
    selected = {name.strip().lower() for name in parsed["fields"].split(",")}
    missing = [name for name in REQUIRED_FIELDS if name.lower() not in selected]
    if not missing:
        return soql, parsed["object"]
    start = parsed.start("fields")
    return soql[:start] + ", ".join(missing) + ", " + soql[start:], parsed["object"]


def soql_rows(job: ReassignJob, client: BulkClient, jobs: ReassignJobRepository, now: datetime) -> Iterator[list[dict[str, str]]]:
    """The query's result pages; a resumed job re-reads its own query job (Salesforce keeps results 7 days)."""
    query_job_id = job.bulk_query_job_id
    if query_job_id is not None:
        try:
            yield from client.query_pages(query_job_id)
            return
        except BulkJobGone:
            log.warning("bulk_query_job_gone", job_id=job.id, query_job_id=query_job_id)
    query_job_id = client.start_query(job.query)
    jobs.set_reassign_job_query(job.id, query_job_id, now)
    yield from client.query_pages(query_job_id)


def csv_rows(path: Path, page_rows: int = CSV_PAGE_ROWS) -> Iterator[list[dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "Id" not in reader.fieldnames:
            raise InputError(f"{path}: the header has no 'Id' column")
        page: list[dict[str, str]] = []
        for row in reader:
            page.append(row)
            if len(page) >= page_rows:
                yield page
                page = []
        if page:
            yield page


def to_page(job: ReassignJob, rows: list[dict[str, str]]) -> Page:
    page = Page()
    for row in rows:
        record_id = (row.get("Id") or "").strip()
        fields = {key: value for key, value in row.items() if key and key != "Id" and value not in (None, "")}
        try:
            event = RecordEvent(
                object_type=job.object_type, record_id=record_id, fields=fields, change_type=ChangeType.REASSIGN,
                source=Source.BATCH, source_event_id=source_event_id(job.id, record_id), received_at=job.created_at,
            )
        except ValidationError as exc:
            page.rejected.append(f"record {record_id or '(no Id)'}: {exc.errors()[0]['msg']}")
            continue
        page.events.append(event)
        page.owners[record_id] = fields.get("OwnerId")
    return page


def read_pages(job: ReassignJob, client: BulkClient | None, jobs: ReassignJobRepository, now: datetime) -> Iterator[Page]:
    if job.source == SOURCE_SOQL:
        if client is None:
            raise InputError("--soql needs a Salesforce org: set BATON_SALESFORCE_CLIENT_ID and _SECRET")
        rows = soql_rows(job, client, jobs, now)
    else:
        rows = csv_rows(Path(job.query))
    for chunk in rows:
        yield to_page(job, chunk)
