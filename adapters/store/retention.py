"""Retention: delete what is older than a cut-off (assignment logs, decisions, dead letters, finished outbox
rows and jobs, removed people in the synced copy, bookings), or count it for a dry run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.store.tables import (
    assignments,
    booking_group_hosts,
    bookings,
    dead_letters,
    outbox,
    reassign_jobs,
    record_states,
    reservations,
    sf_contacts,
    sf_leads,
)

FINISHED_JOB_STATES = ("completed", "failed")


@dataclass(frozen=True)
class Target:
    """What goes: rows of ``table`` matching ``where`` for the cut-off."""

    name: str
    table: sa.Table
    where: Callable[[datetime], sa.ColumnElement[bool]]


TARGETS = (
    Target("assignment logs", assignments, lambda cut: assignments.c.decided_at < cut),
    Target("record decisions", record_states, lambda cut: record_states.c.updated_at < cut),
    Target("dead letters", dead_letters, lambda cut: dead_letters.c.failed_at < cut),
    Target("outbox rows done", outbox,
           lambda cut: sa.and_(outbox.c.status != "pending", outbox.c.created_at < cut)),
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
