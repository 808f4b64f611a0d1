"""Retention: delete what is older than a cut-off (assignment logs, decisions, dead letters, finished outbox
rows, inbox messages and jobs, removed people in the synced copy, bookings, pools' calibration credits of periods over, calendar
sync tokens), or count it for a dry run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.store.tables import (
    assignments,
    booking_group_hosts,
    bookings,
    calendar_sync,
    dead_letters,
    inbox,
    outbox,
    pool_credits,
    reassign_jobs,
    record_states,
    reservations,
    sf_contacts,
    sf_leads,
)
from routing.booking.fairness import period_keys

FINISHED_JOB_STATES = ("completed", "failed")
ZONE_MARGIN = timedelta(days=1)  # a period ends at midnight on its team's clock, up to 12 hours after UTC's


@dataclass(frozen=True)
class Target:
    """What goes: rows of ``table`` matching ``where`` for the cut-off."""

    name: str
    table: sa.Table
    where: Callable[[datetime], sa.ColumnElement[bool]]


def _credit_periods_over(cut: datetime) -> sa.ColumnElement[bool]:
    """Credits of periods (day, week or month) over before the cut-off on every team's clock: never the
    current one, whatever the pool's reset."""
    keys = period_keys((cut.astimezone(UTC) - ZONE_MARGIN).date())
    period = pool_credits.c.period
    return sa.or_(*(sa.and_(period.startswith(key[0]), period < key) for key in keys))


TARGETS = (
    Target("assignment logs", assignments, lambda cut: assignments.c.decided_at < cut),
    Target("record decisions", record_states, lambda cut: record_states.c.updated_at < cut),
    Target("dead letters", dead_letters, lambda cut: dead_letters.c.failed_at < cut),
    Target("outbox rows done", outbox,
           lambda cut: sa.and_(outbox.c.status != "pending", outbox.c.created_at < cut)),
    Target("inbox messages finished", inbox,
           lambda cut: sa.and_(inbox.c.status != "pending", inbox.c.finished_at < cut)),
    Target("reassign jobs finished", reassign_jobs,
           lambda cut: sa.and_(reassign_jobs.c.state.in_(FINISHED_JOB_STATES), reassign_jobs.c.updated_at < cut)),
    Target("removed synced leads", sf_leads,
           lambda cut: sa.and_(sf_leads.c.removed_reason.is_not(None), sf_leads.c.written_at < cut)),
    Target("removed synced contacts", sf_contacts,
           lambda cut: sa.and_(sf_contacts.c.removed_reason.is_not(None), sf_contacts.c.written_at < cut)),
    Target("booking reservations", reservations, lambda cut: reservations.c.ends_at < cut),
    Target("booking group hosts", booking_group_hosts, lambda cut: booking_group_hosts.c.booking_id.in_(
        sa.select(bookings.c.id).where(bookings.c.ends_at < cut))),
    Target("bookings", bookings, lambda cut: bookings.c.ends_at < cut),
    Target("pool credits of periods over", pool_credits, _credit_periods_over),
    # Every poll rewrites the token of each calendar holding a live booking's event, so an older one is of a
    # calendar no longer polled; without it the next poll reads from a day ago, as after Google's 410.
    Target("calendar sync tokens", calendar_sync, lambda cut: calendar_sync.c.updated_at < cut),
)


def purge(engine: Engine, cutoff: datetime, dry_run: bool = False) -> dict[str, int]:
    """Rows older than ``cutoff`` per target, deleted in one transaction unless ``dry_run`` (then only counted)."""
    counts: dict[str, int] = {}
    with engine.begin() as connection:
        for target in TARGETS:
            condition = target.where(cutoff)
            if dry_run:
                counts[target.name] = connection.execute(
                    sa.select(sa.func.count()).select_from(target.table).where(condition)).scalar_one()
            else:
                counts[target.name] = connection.execute(sa.delete(target.table).where(condition)).rowcount
    return counts
