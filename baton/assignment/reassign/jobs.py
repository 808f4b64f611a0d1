"""Reassign jobs: their states, the API budget gate, and how a job names its records' events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from kernel.errors import BatonError, PermanentError, TransientError
from kernel.ports.operations import ApiUsage, ApiUsageRepository, ReassignJob, ReassignJobRepository

log = structlog.get_logger(__name__)
USAGE_MAX_AGE = timedelta(minutes=10)

CREATED, READING, ROUTING, WRITING = "created", "reading", "routing", "writing"
COMPLETED, DEFERRED, INTERRUPTED, FAILED = "completed", "deferred", "interrupted", "failed"
SOURCE_SOQL, SOURCE_CSV = "soql", "csv"
JOB_ID_CHARS = 12


class BudgetExceeded(BatonError):
    """The org's daily API usage is at or over the share a job may start or go on at."""

    def __init__(self, usage: ApiUsage, share: float):
        self.usage = usage
        super().__init__(f"Salesforce API usage {usage.used}/{usage.limit} ({usage.share:.0%}) is at or over the "
                         f"budget of {share:.0%} (BATON_API_BUDGET_SHARE)")


class Progress(Protocol):
    """Where a job reports how far it got: task is ``read``, ``route`` or ``write``."""

    def update(self, task: str, completed: int, total: int | None = None) -> None: ...


class NoProgress:
    def update(self, task: str, completed: int, total: int | None = None) -> None:
        pass


def ensure_budget(api_usage: ApiUsageRepository, share: float, now: datetime | None = None,
                  refresh: Callable[[], tuple[int, int] | None] | None = None) -> None:
    """Raises BudgetExceeded when the org's usage is at or over ``share``. With ``refresh`` (asks the org), a
    usage that is unknown, older than USAGE_MAX_AGE or over the share is asked for again first: the daily
    count is a rolling 24 hours, so a job deferred yesterday may run now though no other process reported since."""
    usage = api_usage.api_usage()
    if refresh is not None and now is not None and (
            usage is None or now - usage.observed_at > USAGE_MAX_AGE or usage.share >= share):
        try:
            fresh = refresh()
        except (TransientError, PermanentError) as exc:
            log.warning("api_usage_unavailable", error=str(exc), stored=usage and f"{usage.used}/{usage.limit}")
            fresh = None
        if fresh is not None:
            api_usage.save_api_usage(fresh[0], fresh[1], now)
            usage = api_usage.api_usage()
            log.info("api_usage_refreshed", used=fresh[0], limit=fresh[1])
    if usage is not None and usage.share >= share:
        raise BudgetExceeded(usage, share)


def create_job(jobs: ReassignJobRepository, source: str, query: str, object_type: str, dry_run: bool,
               now: datetime) -> ReassignJob:
    job_id = uuid.uuid4().hex[:JOB_ID_CHARS]
    jobs.add_reassign_job(ReassignJob(id=job_id, source=source, query=query, object_type=object_type, state=CREATED,
                                      dry_run=dry_run, bulk_query_job_id=None, counts={}, error=None,
                                      created_at=now, updated_at=now))
    job = jobs.reassign_job(job_id)
    assert job is not None
    return job


def source_event_id(job_id: str, record_id: str) -> str:
    """A job routes each record once; another job is a deliberate reassignment of it."""
    return f"job-{job_id}:{record_id}"
