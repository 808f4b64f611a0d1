"""Batch jobs' owners out of the outbox (``bulk`` channel) in Bulk API 2.0 ingest rounds.

A round takes every due ``bulk`` row (any job's, so rows an interrupted job left behind go out too) and writes
them in one ingest job per object type. Rows whose record has a newer write pending or written (a later decision,
in the job or in real time) are superseded first and not written. Rows whose owner already is the record's current owner are settled as
``unchanged`` without a write. Rows that failed transiently (UNABLE_TO_LOCK_ROW, 5xx) wait with backoff and go
in a follow-up round; after the retry limit they are dead-lettered (``baton.salesforce.flusher.settle``). The API budget
is checked before every round.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from baton.assignment.reassign.jobs import Progress, ensure_budget
from baton.salesforce.flusher import FlushRecords, FlushReport, settle
from baton.salesforce.retry import RetryPolicy
from kernel.clock import Clock
from kernel.ports import OwnerWriter, WriteResult
from kernel.ports.outbox import OutboxRepository, PendingWrite

CHANNEL = "bulk"
ROUND_ROWS = 100_000
SETTLE_ROWS = 5_000


def _settle_in_chunks(outbox: OutboxRepository, records: FlushRecords, rows: Sequence[PendingWrite],
                      results: Sequence[WriteResult], policy: RetryPolicy, now: datetime) -> FlushReport:
    """Settles in chunks: one statement may bind only so many routing ids (SQLite, PostgreSQL)."""
    by_id = {result.routing_id: result for result in results}
    report = FlushReport()
    for start in range(0, len(rows), SETTLE_ROWS):
        chunk = rows[start : start + SETTLE_ROWS]
        report.add(settle(outbox, records, chunk, [by_id[row.routing_id] for row in chunk], policy, now))
    return report


def write_round(outbox: OutboxRepository, records: FlushRecords, writer: OwnerWriter, due: Sequence[PendingWrite],
                current_owners: Mapping[str, str | None], policy: RetryPolicy, now: datetime) -> FlushReport:
    rows = outbox.supersede(due, now)  # a newer decision for the record is written or on its way: not this one
    unchanged = [row for row in rows if current_owners.get(row.record_id) == row.owner_id]
    skipped = {row.routing_id for row in unchanged}
    changes = [row.change for row in rows if row.routing_id not in skipped]
    results = [WriteResult(row.routing_id, True, "unchanged") for row in unchanged]
    if changes:
        results.extend(writer.write(changes))
    report = _settle_in_chunks(outbox, records, rows, results, policy, now)
    report.superseded += len(due) - len(rows)
    usage = writer.api_usage()
    if usage is not None:
        records.save_api_usage(usage[0], usage[1], now)
    return report


def write_bulk_owners(outbox: OutboxRepository, records: FlushRecords, writer: OwnerWriter, policy: RetryPolicy, clock: Clock, budget_share: float,
                      current_owners: Mapping[str, str | None], progress: Progress,
                      sleep: Callable[[float], None] = time.sleep) -> FlushReport:
    """Rounds until no ``bulk`` row is pending; raises BudgetExceeded before a round over the API budget."""
    total = FlushReport()
    while True:
        rows = outbox.due(clock(), CHANNEL, ROUND_ROWS)
        if not rows:
            next_at = outbox.next_attempt(CHANNEL)
            if next_at is None:
                return total
            sleep(max(0.0, (next_at - clock()).total_seconds()))
            continue
        ensure_budget(records, budget_share)
        total.add(write_round(outbox, records, writer, rows, current_owners, policy, clock()))
        progress.update("write", total.sent + total.rejected + total.failed + total.superseded
                        + total.by_status.get("unchanged", 0))
