"""The outbox flusher: decided owners go to Salesforce in few, large calls.

The assign stage writes each new owner to the outbox in its own transaction. The flusher drains the due
real-time rows every second or so through the owner writer (sObject Collections, 200 records a call), so
records arriving one by one still share API calls. A row whose write failed transiently waits with
exponential backoff; after ``max_attempts`` it is failed and copied to the dead letters, where
``baton dlq replay`` puts it back. One flusher works at a time (the caller's leader lock decides which).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
import structlog

from adapters.salesforce.session import UNREACHABLE
from kernel.clock import Clock
from kernel.errors import PermanentError, TransientError
from kernel.ports import OwnerChange, OwnerReader, OwnerWriter, WriteResult
from kernel.ports.operations import ApiUsageRepository, DeadLetterRepository, NewDeadLetter
from kernel.ports.outbox import OutboxRepository, PendingWrite

log = structlog.get_logger(__name__)
FLUSH_STAGE = "outbox"
DEFAULT_MAX_ROWS = 2_000
IN_FLIGHT = "write in flight (outcome unknown until answered)"
UNKNOWN_OUTCOME_PREFIXES = (IN_FLIGHT, UNREACHABLE)
ALREADY_WRITTEN = "already written (read back after an unknown outcome)"


class FlushRecords(DeadLetterRepository, ApiUsageRepository, Protocol):
    """What a flush records besides the outbox: writes failed for good, and the org's API usage."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    min_backoff_ms: int = 500
    max_backoff_ms: int = 300_000

    def next_attempt(self, attempts_so_far: int, now: datetime) -> datetime:
        delay_ms = min(self.max_backoff_ms, self.min_backoff_ms * 2 ** max(0, attempts_so_far))
        return now + timedelta(milliseconds=delay_ms)


@dataclass
class FlushReport:
    rows: int = 0
    sent: int = 0
    rejected: int = 0
    retrying: int = 0
    failed: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    def add(self, other: FlushReport) -> None:
        for name in ("rows", "sent", "rejected", "retrying", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for status, count in other.by_status.items():
            self.by_status[status] = self.by_status.get(status, 0) + count


def _changes(rows: Sequence[PendingWrite]) -> list[OwnerChange]:
    return [row.change for row in rows]


def _write(writer: OwnerWriter, rows: Sequence[PendingWrite]) -> list[WriteResult]:
    """Per-row results; a failure of the whole call becomes the same result for every row."""
    try:
        return writer.write(_changes(rows))
    except TransientError as exc:
        return [WriteResult(row.routing_id, False, "retry", str(exc)) for row in rows]
    except PermanentError as exc:
        return [WriteResult(row.routing_id, False, "failed", str(exc)) for row in rows]


def settle(outbox: OutboxRepository, dead_letters: DeadLetterRepository, rows: Sequence[PendingWrite],
           results: Sequence[WriteResult], policy: RetryPolicy, now: datetime) -> FlushReport:
    """Stores each row's outcome: done, retried later with backoff, or failed into the dead letters."""
    attempts = {row.routing_id: row.attempts for row in rows}
    report = FlushReport(rows=len(rows))
    done: dict[tuple[str, str | None], list[str]] = {}
    retry_at: dict[datetime, dict[str, str]] = {}
    failed: dict[str, str] = {}
    for result in results:
        error = result.error or result.status
        if result.ok:
            done.setdefault((result.status, result.error), []).append(result.routing_id)
            report.by_status[result.status] = report.by_status.get(result.status, 0) + 1
        elif result.status == "retry" and attempts[result.routing_id] + 1 < policy.max_attempts:
            retry_at.setdefault(policy.next_attempt(attempts[result.routing_id], now), {})[result.routing_id] = error
        else:
            failed[result.routing_id] = error
    for (status, error), routing_ids in done.items():
        outbox.mark(routing_ids, status, now, error)
    for until, errors in retry_at.items():
        outbox.defer(errors, until)
    report.sent = report.by_status.get("sent", 0)
    report.rejected = report.by_status.get("rejected", 0)
    report.retrying = sum(len(errors) for errors in retry_at.values())
    report.failed = len(failed)
    if failed:
        _dead_letter(outbox, dead_letters, rows, failed, now)
    return report


def _dead_letter(outbox: OutboxRepository, dead_letters: DeadLetterRepository, rows: Sequence[PendingWrite],
                 failed: dict[str, str], now: datetime) -> None:
    for error, routing_ids in _group_by_error(failed).items():
        outbox.mark(routing_ids, "failed", now, error)
        failed_here = set(routing_ids)
        records = [row.record_id for row in rows if row.routing_id in failed_here]
        letter_id = dead_letters.add_dead_letter(NewDeadLetter(
            message_id=f"outbox-{routing_ids[0]}", queue_name=FLUSH_STAGE, actor_name=FLUSH_STAGE,
            stage=FLUSH_STAGE, routing_ids=routing_ids, message={"record_ids": records},
            reason=f"owner write failed: {error}"[:4000], failed_at=now,
        ))
        log.error("owner_write_dead_lettered", dead_letter_id=letter_id, records=len(routing_ids), reason=error)


def _group_by_error(failed: dict[str, str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for routing_id, error in failed.items():
        grouped.setdefault(error, []).append(routing_id)
    return grouped


def _outcome_unknown(row: PendingWrite) -> bool:
    """The row's last write may have been carried out: it was in flight when the flusher stopped or its
    database went away, or the connection broke after the request went out."""
    return (row.last_error or "").startswith(UNKNOWN_OUTCOME_PREFIXES)


def settle_unknown_outcomes(outbox: OutboxRepository, writer: OwnerWriter, rows: list[PendingWrite],
                            now: datetime) -> tuple[list[PendingWrite], int]:
    """Rows whose last write's outcome is unknown are read back first: those whose record already has
    the owner are done (not written twice); the rest are written. Returns (rows to write, rows settled).
    When the owners cannot be read now, those rows wait for the next round."""
    unknown = [row for row in rows if _outcome_unknown(row)]
    if not unknown or not isinstance(writer, OwnerReader):
        return rows, 0
    try:
        owners = {record_id[:15]: owner[:15] for record_id, owner in writer.current_owners(_changes(unknown)).items()}
    except TransientError as exc:
        log.warning("outbox_read_back_failed", rows=len(unknown), error=str(exc))
        waiting = {row.routing_id for row in unknown}
        return [row for row in rows if row.routing_id not in waiting], 0
    except PermanentError as exc:  # cannot read these owners back: an idempotent write again is still right
        log.warning("outbox_read_back_refused", rows=len(unknown), error=str(exc))
        return rows, 0
    done = [row.routing_id for row in unknown if owners.get(row.record_id[:15]) == row.owner_id[:15]]
    outbox.mark(done, "sent", now, ALREADY_WRITTEN)
    finished = set(done)
    return [row for row in rows if row.routing_id not in finished], len(done)


def flush_outbox(outbox: OutboxRepository, records: FlushRecords, writer: OwnerWriter, now: datetime,
                 policy: RetryPolicy, max_rows: int = DEFAULT_MAX_ROWS) -> FlushReport:
    """Writes every due real-time row (``max_rows`` a round, in as few calls as the writer needs).

    The rows are marked in flight before the call, so a write whose answer never got stored (the flusher
    killed, the database or the connection gone) is read back instead of sent twice."""
    report = FlushReport()
    while True:
        due = outbox.due(now, "realtime", max_rows)
        if not due:
            break
        rows, settled = settle_unknown_outcomes(outbox, writer, due, now)
        report.rows += settled
        report.sent += settled
        if rows:
            outbox.note((row.routing_id for row in rows), IN_FLIGHT)
            results = _write(writer, rows)
            report.add(settle(outbox, records, rows, results, policy, now))
        if len(due) < max_rows or not rows:
            break
    usage = writer.api_usage()
    if usage is not None:
        records.save_api_usage(usage[0], usage[1], now)
    if report.rows:
        log.info("outbox_flushed", rows=report.rows, sent=report.sent, rejected=report.rejected,
                 retrying=report.retrying, failed=report.failed, api_usage=usage and f"{usage[0]}/{usage[1]}")
    return report


@dataclass
class Flusher:
    """Flushes every ``interval_ms`` while this process holds the leader lock, until stopped."""

    outbox: OutboxRepository
    records: FlushRecords
    writer: OwnerWriter
    policy: RetryPolicy
    clock: Clock
    interval_ms: int = 1_000
    is_leader: Callable[[], bool] = lambda: True
    stopped: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stopped.is_set():
            self.tick()
            self.stopped.wait(self.interval_ms / 1000)

    def tick(self) -> FlushReport | None:
        try:
            if not self.is_leader():
                return None
            return flush_outbox(self.outbox, self.records, self.writer, self.clock(), self.policy)
        except (TransientError, sa.exc.DBAPIError) as exc:  # the database is away: the rows wait in the outbox
            log.warning("outbox_flush_failed", error=str(exc))
            return None
