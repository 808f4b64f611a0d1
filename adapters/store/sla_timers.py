"""SLA timers: opened when a record is assigned to a team with an SLA, closed by the scheduler."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from adapters.store.base import pairs_in, transaction
from adapters.store.row_values import rows_values
from adapters.store.tables import assignments, record_states, sla_timers
from kernel.ports.holds import LatestActivity, SlaTimer

BATON_OWN_CHANGE_MARKERS = ("Baton's own change", "made by Baton itself")


class SqlSlaTimers:
    def __init__(self, engine: Engine):
        self.engine = engine

    def open(self, timers: Sequence[SlaTimer]) -> None:
        """Stores new timers; one already stored for a routing id (a redelivered decision) is kept as it is."""
        if not timers:
            return
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        with transaction(self.engine) as connection:
            connection.execute(insert(sla_timers).on_conflict_do_nothing(), rows_values(timers, state="open"))

    def due(self, now: datetime, limit: int = 500) -> list[SlaTimer]:
        query = (sa.select(sla_timers).where(sla_timers.c.state == "open", sla_timers.c.due_at <= now)
                 .order_by(sla_timers.c.due_at).limit(limit))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [SlaTimer(row.routing_id, row.object_type, row.record_id, row.team, row.owner_id,
                         row.assigned_at, row.due_at) for row in rows]

    def close(self, routing_ids: Iterable[str], state: str, now: datetime) -> None:
        ids = list(routing_ids)
        if ids:
            with transaction(self.engine) as connection:
                connection.execute(sa.update(sla_timers).where(sla_timers.c.routing_id.in_(ids))
                                   .values(state=state, closed_at=now))

    def states(self) -> dict[str, str]:
        with self.engine.connect() as connection:
            return {row.routing_id: row.state for row in connection.execute(sa.select(sla_timers))}

    def latest_activity(self, timers: Sequence[SlaTimer]) -> dict[str, LatestActivity]:
        """Per timer, the newest event Baton holds for its record (when it is another routing than the timer's)."""
        keys = {(timer.object_type, timer.record_id) for timer in timers}
        if not keys:
            return {}
        query = (sa.select(record_states.c.object_type, record_states.c.record_id, record_states.c.routing_id,
                           record_states.c.last_event_at, assignments.c.outcome, assignments.c.log)
                 .select_from(record_states.outerjoin(assignments,
                                                      assignments.c.routing_id == record_states.c.routing_id))
                 .where(pairs_in(record_states.c.object_type, record_states.c.record_id, keys)))
        with self.engine.connect() as connection:
            rows = {(row.object_type, row.record_id): row for row in connection.execute(query)}
        found: dict[str, LatestActivity] = {}
        for timer in timers:
            row = rows.get((timer.object_type, timer.record_id))
            if row is not None:
                found[timer.routing_id] = LatestActivity(row.routing_id, row.last_event_at,
                                                         _by_baton(row.outcome, row.log))
        return found


def _by_baton(outcome: str | None, log: dict[str, object] | None) -> bool:
    if outcome != "not_routed" or not log:
        return False
    reasons = log.get("reasons") or []
    return any(marker in str(reason) for reason in reasons for marker in BATON_OWN_CHANGE_MARKERS)  # type: ignore[union-attr]
