"""Running a reassign job: read its records, enqueue those not yet decided, wait for the decisions, write owners.

Every step can be interrupted and resumed: the records are re-read (the same Bulk query job, or the same file),
records whose routing id already has a stored decision are not enqueued again, and owners still in the outbox
are written by the next round. The job's state and counts are kept in ``reassign_jobs``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import structlog
from dramatiq import Broker

from adapters.salesforce.bulk import BulkClient
from adapters.store import Store
from baton.assignment.ports import AssignmentPorts
from baton.assignment.reassign import jobs
from baton.assignment.reassign.dry_run import DryRun, DryRunReport
from baton.assignment.reassign.owners import write_bulk_owners
from baton.assignment.reassign.records import read_pages
from baton.chains import ROUTE
from baton.ports import Ports
from baton.salesforce.ingest import enqueue
from baton.salesforce.retry import RetryPolicy
from baton.settings import Settings
from kernel.clock import Clock
from kernel.errors import PermanentError, TransientError
from kernel.ports import OwnerWriter
from kernel.ports.decisions import Decision
from kernel.ports.operations import ReassignJob

log = structlog.get_logger(__name__)
WAIT_POLL_S = 0.5
WAIT_CHUNK = 500
IDLE_POLLS = 3


@dataclass
class JobContext:
    """What a job runs with; ``idle`` tells (embedded broker) that no message is left on any queue."""

    store: Store
    broker: Broker
    settings: Settings
    bulk: BulkClient | None
    writer: OwnerWriter
    clock: Clock
    progress: jobs.Progress = field(default_factory=jobs.NoProgress)
    idle: Callable[[], bool] | None = None
    timeout_s: float = 3600.0
    sleep: Callable[[float], None] = time.sleep


@dataclass
class JobReport:
    job: ReassignJob
    decisions: dict[str, Decision]
    undecided: int
    rejected_rows: list[str]
    writes: Counter[str]

    @property
    def ok(self) -> bool:
        return not (self.rejected_rows or self.undecided or self.writes["failed"] or self.writes["rejected"])


def _policy(settings: Settings) -> RetryPolicy:
    """A job's Bulk API writes are retried ``BATON_MAX_RETRIES`` times (the job waits for them), not for the
    real-time outbox's retry window."""
    return RetryPolicy(settings.min_backoff_ms, settings.max_backoff_ms, window=None,
                       max_attempts=settings.max_retries + 1)


def _save_usage(ctx: JobContext) -> None:
    usage = ctx.bulk.api_usage() if ctx.bulk else None
    if usage is not None:
        ctx.store.administration.save_api_usage(usage[0], usage[1], ctx.clock())


def _collect(ctx: JobContext, pending: list[str], found: dict[str, Decision]) -> None:
    """Moves decided ids from the front of ``pending`` into ``found``, a chunk at a time, up to the first chunk
    that still holds an undecided id (records are decided roughly in the order they were sent), so a poll
    costs one query while the workers are busy rather than one per chunk of the whole job."""
    while pending:
        chunk = pending[:WAIT_CHUNK]
        got = ctx.store.decisions.stored_decisions(chunk)
        found.update(got)
        pending[:WAIT_CHUNK] = [rid for rid in chunk if rid not in got]
        if len(got) < len(chunk):
            return


def _wait(ctx: JobContext, pending: list[str], found: dict[str, Decision], total: int) -> None:
    """Polls the store until every enqueued routing id is decided, the embedded broker is idle, or time is up."""
    deadline = time.monotonic() + ctx.timeout_s
    idle_polls = 0
    while pending:
        _collect(ctx, pending, found)
        ctx.progress.update("route", len(found), total)
        idle_polls = idle_polls + 1 if ctx.idle is not None and ctx.idle() else 0
        if pending and (idle_polls >= IDLE_POLLS or time.monotonic() > deadline):
            found.update(ctx.store.decisions.stored_decisions(pending))
            pending[:] = [rid for rid in pending if rid not in found]
            return
        if pending:
            ctx.sleep(WAIT_POLL_S)


def _counts(decisions: dict[str, Decision], undecided: int, rejected: int, writes: Counter[str],
            skipped: int) -> dict[str, int]:
    """The job's records by outcome and its owner writes by outbox status (``written_`` prefix)."""
    outcomes = Counter(decision.outcome for decision in decisions.values())
    return {"records": len(decisions) + undecided, "rejected_rows": rejected, "already_decided": skipped,
            "undecided": undecided, **outcomes, **{f"written_{status}": n for status, n in writes.items()}}


@contextmanager
def _tracked(job: ReassignJob, ctx: JobContext) -> Iterator[None]:
    """Checks the API budget, then runs the job's work; an error leaves it ``deferred``/``interrupted``/``failed``."""
    administration, now = ctx.store.administration, ctx.clock
    try:
        jobs.ensure_budget(administration, ctx.settings.api_budget_share, now(),
                           ctx.bulk.refresh_usage if ctx.bulk else None)
        administration.set_reassign_job_state(job.id, jobs.READING, now(), error=None)
        yield
    except jobs.BudgetExceeded as exc:
        administration.set_reassign_job_state(job.id, jobs.DEFERRED, now(), error=str(exc))
        raise
    except (TransientError, KeyboardInterrupt) as exc:
        administration.set_reassign_job_state(job.id, jobs.INTERRUPTED, now(), error=str(exc) or type(exc).__name__)
        raise
    except PermanentError as exc:
        administration.set_reassign_job_state(job.id, jobs.FAILED, now(), error=str(exc))
        raise


def _finish(job: ReassignJob, ctx: JobContext, counts: dict[str, int]) -> ReassignJob:
    ctx.store.administration.set_reassign_job_state(job.id, jobs.COMPLETED, ctx.clock(), counts=counts)
    log.info("reassign_done", job_id=job.id, dry_run=job.dry_run, **counts)
    finished = ctx.store.administration.reassign_job(job.id)
    assert finished is not None
    return finished


def run_job(job: ReassignJob, ctx: JobContext) -> JobReport:
    """Runs (or resumes) a job to the end; on an error the job is left ``interrupted``/``failed``/``deferred``."""
    store, now = ctx.store, ctx.clock
    with _tracked(job, ctx):
        found: dict[str, Decision] = {}
        pending: list[str] = []
        owners: dict[str, str | None] = {}
        rejected: list[str] = []
        for page in read_pages(job, ctx.bulk, store.administration, now()):
            rejected.extend(page.rejected)
            owners.update(page.owners)
            ids = [event.routing_id for event in page.events]
            decided = store.decisions.stored_decisions(ids)
            found.update(decided)
            fresh = [event for event in page.events if event.routing_id not in decided]
            enqueue(ctx.broker, fresh, ctx.settings.batch_size, now(), ROUTE)
            pending.extend(event.routing_id for event in fresh)
            ctx.progress.update("read", len(owners) + len(rejected))
        skipped = len(found)
        _save_usage(ctx)
        store.administration.set_reassign_job_state(job.id, jobs.ROUTING, now(),
                                                    counts={"records": len(owners), "already_decided": skipped})
        log.info("reassign_enqueued", job_id=job.id, records=len(owners), already_decided=skipped,
                 enqueued=len(pending), rejected_rows=len(rejected))
        _wait(ctx, pending, found, len(owners))
        store.administration.set_reassign_job_state(job.id, jobs.WRITING, now())
        write_bulk_owners(store.outbox, store.administration, ctx.writer, _policy(ctx.settings), now,
                          ctx.settings.api_budget_share, owners, ctx.progress, ctx.sleep)
        writes = Counter(store.outbox.statuses(list(found)).values())
    finished = _finish(job, ctx, _counts(found, len(pending), len(rejected), writes, skipped))
    return JobReport(finished, found, len(pending), rejected, writes)


def run_dry_job(job: ReassignJob, ctx: JobContext, ports: Ports) -> tuple[DryRunReport, list[str]]:
    """Decides every record on a copy of the team state; stores only the job's own row."""
    with _tracked(job, ctx):
        dry = DryRun(AssignmentPorts.of(ports), ctx.settings.batch_size)
        rejected: list[str] = []
        records = 0
        for page in read_pages(job, ctx.bulk, ctx.store.administration, ctx.clock()):
            rejected.extend(page.rejected)
            dry.decide(page.events, page.owners)
            records += len(page.events)
            ctx.progress.update("route", records)
        _save_usage(ctx)
    report = dry.report
    _finish(job, ctx, {"records": records, "rejected_rows": len(rejected), **report.outcomes,
                       "would_move": len(report.moves)})
    return report, rejected
