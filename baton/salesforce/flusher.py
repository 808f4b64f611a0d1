"""The outbox flusher: decided owners go to Salesforce in few, large calls.

The assign stage writes each new owner to the outbox in its own transaction. The flusher drains the due
real-time rows every second or so through the owner writer (sObject Collections, 200 records a call), so
records arriving one by one still share API calls. Before a row is sent, it is checked against its record's
newer rows: a row whose record has a newer write pending or written is ``superseded`` and never sent, so an
older owner never replaces a newer decision's (after a retry, or a read-back after a lost answer). A row whose
write failed transiently waits with capped exponential backoff for the retry window
(``baton.salesforce.retry``); a row Salesforce refuses for good, or that kept failing for the whole window, is
failed and copied to the dead letters, where ``baton dlq replay`` puts it back. One flusher works at a time
(the caller's leader lock decides which); it raises the backlog alarm when the oldest waiting owner is too old.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
import structlog

from adapters.salesforce.session import UNREACHABLE
from baton.salesforce.backlog import BacklogAlarm
from baton.salesforce.retry import FAILED, RETRY, RetryPolicy, Verdict, verdict
from kernel.clock import Clock
from kernel.errors import PermanentError, TransientError
from kernel.ports import OwnerChange, OwnerReader, OwnerWriter, WriteResult
from kernel.ports.operations import ApiUsageRepository, DeadLetterRepository, NewDeadLetter
from kernel.ports.outbox import OutboxRepository, PendingWrite, Retry
from routing.graph import OWNER_FIELD
from routing.lifecycles.outbox import OutboxStatus

log = structlog.get_logger(__name__)
FLUSH_STAGE = "outbox"
REALTIME = "realtime"
DEFAULT_MAX_ROWS = 2_000
IN_FLIGHT = "write in flight (outcome unknown until answered)"
UNKNOWN_OUTCOME_PREFIXES = (IN_FLIGHT, UNREACHABLE)
ALREADY_WRITTEN = "already written (read back after an unknown outcome)"
_COUNTED = ("rows", "sent", "rejected", "retrying", "failed", "superseded")


class FlushRecords(DeadLetterRepository, ApiUsageRepository, Protocol):
    """What a flush records besides the outbox: writes failed for good, and the org's API usage."""


@dataclass
class FlushReport:
    rows: int = 0
    sent: int = 0
    rejected: int = 0
    retrying: int = 0
    failed: int = 0
    superseded: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    def add(self, other: FlushReport) -> None:
        for name in _COUNTED:
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
        return [WriteResult(row.routing_id, False, RETRY, str(exc)) for row in rows]
    except PermanentError as exc:
        return [WriteResult(row.routing_id, False, FAILED, str(exc)) for row in rows]


def settle(outbox: OutboxRepository, dead_letters: DeadLetterRepository, rows: Sequence[PendingWrite],
           results: Sequence[WriteResult], policy: RetryPolicy, now: datetime) -> FlushReport:
    """Stores each row's outcome: done, retried later with backoff, or failed into the dead letters. A row
    changed meanwhile (a lost compare-and-set) keeps what the other change gave it."""
    by_id = {row.routing_id: row for row in rows}
    report = FlushReport(rows=len(rows))
    done: dict[tuple[str, str | None], list[PendingWrite]] = {}
    retries: list[Retry] = []
    failed: dict[str, list[PendingWrite]] = {}
    for result in results:
        row = by_id[result.routing_id]
        error = result.error or result.status
        decided = verdict(result, row, policy, now)
        if decided is Verdict.DONE:
            done.setdefault((result.status, result.error), []).append(row)
        elif decided is Verdict.RETRY:
            retries.append(Retry(row, error, now + policy.backoff(row.attempts + 1)))
        else:
            failed.setdefault(error, []).append(row)
    for (status, error), group in done.items():
        marked = len(outbox.mark(group, status, now, error))
        report.by_status[status] = report.by_status.get(status, 0) + marked
    outbox.defer(retries, now)
    report.sent = report.by_status.get(OutboxStatus.SENT, 0)
    report.rejected = report.by_status.get(OutboxStatus.REJECTED, 0)
    report.superseded = report.by_status.get(OutboxStatus.SUPERSEDED, 0)
    report.retrying = len(retries)
    report.failed = _dead_letter(outbox, dead_letters, failed, now)
    return report


def _dead_letter(outbox: OutboxRepository, dead_letters: DeadLetterRepository,
                 failed: dict[str, list[PendingWrite]], now: datetime) -> int:
    """Each error's rows failed and copied to one dead letter; returns how many rows were failed."""
    count = 0
    for error, group in failed.items():
        routing_ids = outbox.mark(group, OutboxStatus.FAILED, now, error)
        if not routing_ids:
            continue
        count += len(routing_ids)
        failed_here = set(routing_ids)
        records = [row.record_id for row in group if row.routing_id in failed_here]
        letter_id = dead_letters.add_dead_letter(NewDeadLetter(
            message_id=f"outbox-{routing_ids[0]}", queue_name=FLUSH_STAGE, actor_name=FLUSH_STAGE,
            stage=FLUSH_STAGE, routing_ids=routing_ids, message={"record_ids": records},
            reason=f"owner write failed: {error}"[:4000], failed_at=now,
        ))
        log.error("owner_write_dead_lettered", dead_letter_id=letter_id, records=len(routing_ids), reason=error)
    return count


def _outcome_unknown(row: PendingWrite) -> bool:
    """The row's last write may have been carried out: it was in flight when the flusher stopped or its
    database went away, or the connection broke after the request went out."""
    return (row.last_error or "").startswith(UNKNOWN_OUTCOME_PREFIXES)


@dataclass
class ReadBack:
    """What reading owners back after unknown outcomes gave: rows to write, rows found written, and rows that
    wait because the owners could not be read now (each a ``retry`` result keeping its unknown outcome)."""

    to_write: list[PendingWrite]
    written: list[PendingWrite] = field(default_factory=list)
    waiting: list[WriteResult] = field(default_factory=list)


def read_back(writer: OwnerWriter, rows: list[PendingWrite]) -> ReadBack:
    """Rows whose last write's outcome is unknown are read back first: those whose record already has the
    owner are done (not written twice); the rest are written again. A row carrying routing facts is written
    again without reading back, and so is a row of another user field than OwnerId (a booking's host field,
    which the read-back does not read) (the owner alone does not tell whether its facts were written; the PATCH of
    the same values is idempotent, and the row is still its record's newest, or it was superseded). When the owners cannot be read now, those
    rows wait for their next attempt, still to be read back."""
    unknown = [row for row in rows if _outcome_unknown(row) and not row.fields and row.owner_field == OWNER_FIELD]
    if not unknown or not isinstance(writer, OwnerReader):
        return ReadBack(rows)
    try:
        owners = {record_id[:15]: owner[:15] for record_id, owner in writer.current_owners(_changes(unknown)).items()}
    except TransientError as exc:
        log.warning("outbox_read_back_failed", rows=len(unknown), error=str(exc))
        waiting = {row.routing_id for row in unknown}
        return ReadBack([row for row in rows if row.routing_id not in waiting],
                        waiting=[WriteResult(row.routing_id, False, RETRY, row.last_error) for row in unknown])
    except PermanentError as exc:  # cannot read these owners back: an idempotent write again is still right
        log.warning("outbox_read_back_refused", rows=len(unknown), error=str(exc))
        return ReadBack(rows)
    written = [row for row in unknown if owners.get(row.record_id[:15]) == row.owner_id[:15]]
    found = {row.routing_id for row in written}
    return ReadBack([row for row in rows if row.routing_id not in found], written=written)


def write_rows(outbox: OutboxRepository, records: FlushRecords, writer: OwnerWriter, rows: list[PendingWrite],
               policy: RetryPolicy, now: datetime) -> FlushReport:
    """Reads back the rows whose last outcome is unknown, then writes the rest. The rows are marked in flight
    before the call, so a write whose answer never got stored (the flusher killed, the database or the
    connection gone) is read back instead of sent twice; a row changed meanwhile is not sent."""
    found = read_back(writer, rows)
    report = FlushReport()
    written = outbox.mark(found.written, OutboxStatus.SENT, now, ALREADY_WRITTEN)
    report.rows = report.sent = len(written)
    waiting = {result.routing_id for result in found.waiting}
    report.add(settle(outbox, records, [row for row in rows if row.routing_id in waiting], found.waiting,
                      policy, now))
    claimed = outbox.claim(found.to_write, IN_FLIGHT)
    if claimed:
        report.add(settle(outbox, records, claimed, _write(writer, claimed), policy, now))
    return report


def flush_outbox(outbox: OutboxRepository, records: FlushRecords, writer: OwnerWriter, now: datetime,
                 policy: RetryPolicy, max_rows: int = DEFAULT_MAX_ROWS) -> FlushReport:
    """Writes every due real-time row (``max_rows`` a round, in as few calls as the writer needs), except
    the rows a newer write of the same record supersedes."""
    report = FlushReport()
    while True:
        due = outbox.due(now, REALTIME, max_rows)
        if not due:
            break
        rows = outbox.supersede(due, now)
        superseded = len(due) - len(rows)
        report.rows += superseded
        report.superseded += superseded
        round_report = write_rows(outbox, records, writer, rows, policy, now)
        report.add(round_report)
        if len(due) < max_rows or not round_report.rows:
            break
    usage = writer.api_usage()
    if usage is not None:
        records.save_api_usage(usage[0], usage[1], now)
    if report.rows:
        log.info("outbox_flushed", rows=report.rows, sent=report.sent, rejected=report.rejected,
                 retrying=report.retrying, failed=report.failed, superseded=report.superseded,
                 api_usage=usage and f"{usage[0]}/{usage[1]}")
    return report


@dataclass
class Flusher:
    """Flushes every ``interval_ms`` while this process holds the leader lock, until stopped; after each round
    the backlog alarm (if any) looks at the oldest waiting real-time write."""

    outbox: OutboxRepository
    records: FlushRecords
    writer: OwnerWriter
    policy: RetryPolicy
    clock: Clock
    interval_ms: int = 1_000
    is_leader: Callable[[], bool] = lambda: True
    stopped: threading.Event = field(default_factory=threading.Event)
    alarm: BacklogAlarm | None = None

    def run(self) -> None:
        while not self.stopped.is_set():
            self.tick()
            self.stopped.wait(self.interval_ms / 1000)

    def tick(self) -> FlushReport | None:
        try:
            if not self.is_leader():
                return None
            now = self.clock()
            report = flush_outbox(self.outbox, self.records, self.writer, now, self.policy)
            if self.alarm is not None:
                self.alarm.observe(self.outbox.backlog().get(REALTIME), now)
            return report
        except (TransientError, sa.exc.DBAPIError) as exc:  # the database is away: the rows wait in the outbox
            log.warning("outbox_flush_failed", error=str(exc))
            return None
