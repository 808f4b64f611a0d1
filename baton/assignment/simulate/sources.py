"""Where simulated records come from: a JSONL or CSV file, or a SOQL query through Bulk API 2.0."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from adapters.files import Rejected, read_records
from adapters.salesforce.bulk import BulkClient
from baton.assignment.reassign.jobs import SOURCE_SOQL
from baton.assignment.reassign.records import prepare_soql, to_page
from kernel.ports.operations import ReassignJob
from messages import RecordEvent


def file_records(path: Path, object_type: str | None, now: datetime) -> tuple[list[RecordEvent], list[str]]:
    events: list[RecordEvent] = []
    rejected: list[str] = []
    for item in read_records(path, object_type, now):
        if isinstance(item, Rejected):
            rejected.append(f"{path}:{item.line}: {item.reason}")
        else:
            events.append(item)
    return events, rejected


def soql_records(client: BulkClient, soql: str, now: datetime) -> Iterator[tuple[list[RecordEvent], list[str]]]:
    """Pages of (events, rejected rows) as a reassignment would read them; no job is stored."""
    query, object_type = prepare_soql(soql)
    job = ReassignJob(id=f"simulate-{uuid.uuid4().hex[:12]}", source=SOURCE_SOQL, query=query,
                      object_type=object_type, state="reading", dry_run=True, bulk_query_job_id=None, counts={},
                      error=None, created_at=now, updated_at=now)
    for rows in client.query_pages(client.start_query(query)):
        page = to_page(job, rows)
        yield page.events, page.rejected
