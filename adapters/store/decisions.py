"""Decisions and team state: the assign stage's unit of work (DecisionTransaction) and the repository of stored
decisions (SqlDecisions)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from adapters.store.base import StoreTransaction, chunks, pairs_in, transaction
from adapters.store.decision_write import write_decisions_postgresql
from adapters.store.meeting_counts import count_meetings
from adapters.store.outbox import queue_owner_writes
from adapters.store.row_values import row_values, rows_values
from adapters.store.tables import (
    assignments,
    holds,
    member_status,
    record_rejections,
    record_states,
    sticky_owners,
    team_states,
)
from kernel.errors import TransientError
from kernel.ports.decisions import (
    Assignment,
    Decision,
    DecisionRows,
    JsonObject,
    OwnerWrite,
    RecordKey,
    RecordState,
    Rejection,
    RecordStateUpdate,
    StickyKey,
    StickyOwner,
)
from kernel.ports.holds import HeldRecord
from routing.lifecycles.hold import HOLD, HoldStatus

AVAILABILITY_CACHE_S = 1.0
AvailabilityCache = dict[str, tuple[float, set[str]]]


class DecisionTransaction(StoreTransaction):
    """The assign stage's reads and writes, all inside one transaction."""

    def __init__(
        self, connection: Connection, known_teams: set[str] | None = None,
        availability_cache: AvailabilityCache | None = None,
    ):
        super().__init__(connection)
        self._availability_cache = availability_cache if availability_cache is not None else {}
        self._known_teams = known_teams if known_teams is not None else set()

    def decided(self, routing_ids: Iterable[str]) -> dict[str, JsonObject]:
        """Assignment logs already stored for these routing ids (a redelivery finds them here)."""
        ids = list(routing_ids)
        if not ids:
            return {}
        rows = self.connection.execute(
            sa.select(assignments.c.routing_id, assignments.c.log).where(assignments.c.routing_id.in_(ids))
        )
        return {row.routing_id: row.log for row in rows}

    def lock_team_states(self, teams: Iterable[str], now: datetime) -> dict[str, JsonObject]:
        """Each team's selection state, locked until commit (sorted, so two batches cannot deadlock)."""
        names = sorted(set(teams))
        if not names:
            return {}
        self._create_team_rows([name for name in names if name not in self._known_teams], now)
        states = self._select_for_update(names)
        if len(states) < len(names):  # a row this process thought existed was rolled back
            self._create_team_rows([name for name in names if name not in states], now)
            states = self._select_for_update(names)
        self._known_teams.update(states)
        return states

    def _create_team_rows(self, names: list[str], now: datetime) -> None:
        self._insert_ignoring_conflicts(
            team_states, [{"team": name, "state": {}, "decisions": 0, "updated_at": now} for name in names]
        )

    def _select_for_update(self, names: list[str]) -> dict[str, JsonObject]:
        query = sa.select(team_states.c.team, team_states.c.state).where(team_states.c.team.in_(names))
        if self._dialect == "postgresql":
            query = query.order_by(team_states.c.team).with_for_update()
        return {row.team: row.state for row in self.connection.execute(query)}

    def record_states(self, keys: Iterable[RecordKey]) -> dict[RecordKey, RecordState]:
        wanted = list(set(keys))
        if not wanted:
            return {}
        rows = self.connection.execute(
            sa.select(record_states).where(pairs_in(record_states.c.object_type, record_states.c.record_id, wanted))
        )
        return {
            (row.object_type, row.record_id): RecordState(row.last_event_at, row.routing_id, row.owner_id)
            for row in rows
        }

    def rejections(self, keys: Iterable[RecordKey]) -> dict[RecordKey, list[Rejection]]:
        wanted = list(set(keys))
        if not wanted:
            return {}
        table = record_rejections
        rows = self.connection.execute(
            sa.select(table).where(pairs_in(table.c.object_type, table.c.record_id, wanted)).order_by(table.c.id)
        )
        found: dict[RecordKey, list[Rejection]] = {}
        for row in rows:
            found.setdefault((row.object_type, row.record_id), []).append(Rejection(
                row.object_type, row.record_id, row.member_id, row.team, row.reason, row.rejected_at))
        return found

    def save_record_states(self, rows: Sequence[RecordStateUpdate]) -> None:
        if not rows:
            return
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        statement = insert(record_states)
        statement = statement.on_conflict_do_update(
            index_elements=[record_states.c.object_type, record_states.c.record_id],
            set_={
                "last_event_at": statement.excluded.last_event_at,
                "routing_id": statement.excluded.routing_id,
                "owner_id": statement.excluded.owner_id,
                "updated_at": statement.excluded.updated_at,
            },
            where=record_states.c.last_event_at <= statement.excluded.last_event_at,
        )
        self.connection.execute(statement, rows_values(rows))

    def save_assignments(self, rows: Sequence[Assignment]) -> None:
        if rows:
            self.connection.execute(sa.insert(assignments), rows_values(rows))

    def replace_held_assignments(self, rows: Sequence[Assignment]) -> None:
        """A re-checked hold's new decision; fails (to be retried) if another worker decided it first."""
        for row in rows:
            values = row_values(row)
            del values["routing_id"]
            result = self.connection.execute(
                sa.update(assignments)
                .where(assignments.c.routing_id == row.routing_id, assignments.c.outcome == "held")
                .values(**values)
            )
            if result.rowcount != 1:
                raise TransientError(f"held record {row.routing_id} was decided concurrently; will re-read")

    def sticky_owners(self, keys: Iterable[StickyKey]) -> dict[StickyKey, StickyOwner]:
        """Who last got a record for each (team, sticky key), and when."""
        wanted = list(set(keys))
        if not wanted:
            return {}
        rows = self.connection.execute(
            sa.select(sticky_owners).where(pairs_in(sticky_owners.c.team, sticky_owners.c.sticky_key, wanted))
        )
        return {
            (row.team, row.sticky_key): StickyOwner(row.team, row.sticky_key, row.owner_id, row.assigned_at)
            for row in rows
        }

    def save_sticky_owners(self, rows: Sequence[StickyOwner]) -> None:
        if not rows:
            return
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        statement = insert(sticky_owners)
        self.connection.execute(
            statement.on_conflict_do_update(
                index_elements=[sticky_owners.c.team, sticky_owners.c.sticky_key],
                set_={"owner_id": statement.excluded.owner_id, "assigned_at": statement.excluded.assigned_at},
            ),
            rows_values(rows),
        )

    def meeting_counts(self, host_ids: Iterable[str], since: datetime, until: datetime, *, by: str,
                       statuses: Sequence[str]) -> dict[str, int]:
        """Meetings each host hosted in ``[since, until)`` (see ``count_meetings``): one query."""
        return count_meetings(self.connection, host_ids, since, until, by=by, statuses=statuses)

    def hold_times(self, routing_ids: Iterable[str]) -> dict[str, datetime]:
        ids = list(routing_ids)
        if not ids:
            return {}
        rows = self.connection.execute(
            sa.select(holds.c.routing_id, holds.c.held_at).where(holds.c.routing_id.in_(ids))
        )
        return {row.routing_id: row.held_at for row in rows}

    def save_holds(self, rows: Sequence[HeldRecord]) -> None:
        if not rows:
            return
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        statement = insert(holds)
        values = rows_values(rows, version=1)
        for row in values:  # a new hold is held, or queued (pull method); a re-checked one held (or queued) again
            row["status"] = HoldStatus.QUEUED.value if row["status"] == HoldStatus.QUEUED else HoldStatus.HELD.value
        self.connection.execute(
            statement.on_conflict_do_update(
                index_elements=[holds.c.routing_id],
                set_={"reason": statement.excluded.reason, "recheck_at": statement.excluded.recheck_at,
                      "context": statement.excluded.context, "checks": holds.c.checks + 1,
                      "team": statement.excluded.team,  # a delayed record's wait ended in a team's hold
                      "status": statement.excluded.status, "version": holds.c.version + 1},
                where=sa.or_(*(holds.c.status == status  # else another re-check held it first (an IN list
                               for status in sorted(HOLD.sources(HoldStatus.HELD)))),  # cannot go with many rows)
            ),
            values,
        )

    def release_holds(self, routing_ids: Iterable[str]) -> None:
        """Decided records leave their holds (held or rechecking -> released: the row goes)."""
        ids = list(routing_ids)
        if ids:
            self.connection.execute(sa.delete(holds).where(
                holds.c.routing_id.in_(ids), holds.c.status.in_(sorted(HOLD.sources(HoldStatus.RELEASED)))))

    def queued(self, team: str, limit: int, *, lock: bool = False) -> list[HeldRecord]:
        """The records waiting in ``team``'s pull queue, oldest first; with ``lock`` each is locked until the unit
        ends: on PostgreSQL rows another transaction has locked are skipped (``FOR UPDATE SKIP LOCKED``), on
        SQLite the unit holds the single writer's lock already."""
        query = (sa.select(holds).where(holds.c.team == team, holds.c.status == HoldStatus.QUEUED.value)
                 .order_by(holds.c.held_at, holds.c.routing_id).limit(limit))
        if lock and self._dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [
            HeldRecord(row.routing_id, row.object_type, row.record_id, row.team, row.reason, row.context,
                       row.held_at, row.recheck_at, row.checks, row.status, row.version)
            for row in self.connection.execute(query)
        ]

    def queue_owner_writes(self, rows: Sequence[OwnerWrite]) -> None:
        """After the decisions' record states: a write whose decision is not its record's newest is superseded."""
        queue_owner_writes(self.connection, rows)

    def save_decisions(self, rows: DecisionRows) -> None:
        """Team states, assignment logs, record states and outbox rows: one statement on PostgreSQL."""
        if self._dialect == "postgresql":
            write_decisions_postgresql(self.connection, rows)
            return
        for row in rows.team_states:
            self.connection.execute(
                sa.update(team_states).where(team_states.c.team == row.team)
                .values(state=row.state, decisions=team_states.c.decisions + row.decisions,
                        updated_at=row.updated_at)
            )
        self.save_assignments(rows.assignments)
        self.save_record_states(rows.record_states)
        self.queue_owner_writes(rows.owner_writes)

    def unavailable_members(self) -> set[str]:
        """User ids toggled unavailable (read at most once a second per process)."""
        cached = self._availability_cache.get("unavailable")
        if cached is not None and time.monotonic() - cached[0] < AVAILABILITY_CACHE_S:
            return cached[1]
        rows = self.connection.execute(
            sa.select(member_status.c.user_id).where(member_status.c.available.is_(False))
        )
        unavailable = {row.user_id for row in rows}
        self._availability_cache["unavailable"] = (time.monotonic(), unavailable)
        return unavailable


class SqlDecisions:
    """Stored decisions, team state and member availability. The teams known to have a row and the members
    toggled unavailable are remembered across the units of work it opens."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._known_teams: set[str] = set()
        self._availability_cache: AvailabilityCache = {}

    @contextmanager
    def transaction(self) -> Iterator[DecisionTransaction]:
        """One transaction; database trouble surfaces as TransientError so the stage retries."""
        with transaction(self.engine) as connection:
            yield DecisionTransaction(connection, self._known_teams, self._availability_cache)

    @contextmanager
    def reader(self) -> Iterator[DecisionTransaction]:
        with self.engine.connect() as connection:
            yield DecisionTransaction(connection)

    def assignment_logs(self, routing_ids: Iterable[str]) -> dict[str, JsonObject]:
        ids = list(routing_ids)
        found: dict[str, JsonObject] = {}
        with self.engine.connect() as connection:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows = connection.execute(
                    sa.select(assignments.c.routing_id, assignments.c.log).where(
                        assignments.c.routing_id.in_(chunk)
                    )
                )
                found.update({row.routing_id: row.log for row in rows})
        return found

    def latest_routed_log(self, object_type: str, record_id: str,
                          skip_method: str = "booking") -> JsonObject | None:
        """The newest decision's log for a record made by routing (not by a booking), or None."""
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(assignments.c.log)
                .where(assignments.c.record_id == record_id, assignments.c.object_type == object_type,
                       sa.or_(assignments.c.method.is_(None), assignments.c.method != skip_method))
                .order_by(assignments.c.decided_at.desc())
                .limit(1)
            ).first()
        return row.log if row is not None else None

    def count_assignments(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(assignments)).scalar_one())

    def owner_counts(self) -> dict[str, int]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(assignments.c.owner_id, sa.func.count())
                .where(assignments.c.outcome == "assigned")
                .group_by(assignments.c.owner_id)
            )
            return {row[0]: int(row[1]) for row in rows}

    def team_decisions(self, team: str) -> int:
        with self.engine.connect() as connection:
            value = connection.execute(
                sa.select(team_states.c.decisions).where(team_states.c.team == team)
            ).scalar()
        return int(value or 0)

    def team_state(self, team: str) -> JsonObject | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(team_states.c.state).where(team_states.c.team == team)).first()
        return row.state if row else None

    def set_member_available(self, user_id: str, available: bool, now: datetime) -> None:
        with self.transaction() as tx:
            insert = postgresql.insert if tx._dialect == "postgresql" else sqlite.insert
            statement = insert(member_status).values(user_id=user_id, available=available, changed_at=now)
            tx.connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[member_status.c.user_id],
                    set_={"available": available, "changed_at": now},
                )
            )
        self._availability_cache.clear()

    def stored_decisions(self, routing_ids: Sequence[str]) -> dict[str, Decision]:
        """Stored decisions among these routing ids (outcome, owner, team only; no logs)."""
        found: dict[str, Decision] = {}
        columns = (assignments.c.routing_id, assignments.c.outcome, assignments.c.owner_id, assignments.c.team)
        with self.engine.connect() as connection:
            for chunk in chunks(routing_ids):
                rows = connection.execute(sa.select(*columns).where(assignments.c.routing_id.in_(chunk)))
                found.update({row.routing_id: Decision(row.outcome, row.owner_id, row.team) for row in rows})
        return found

    def rejecter_of(self, routing_id: str) -> str | None:
        with self.engine.connect() as connection:
            return connection.execute(sa.select(record_rejections.c.member_id)
                                      .where(record_rejections.c.routing_id == routing_id)).scalar()

    def add_rejection(self, rejection: Rejection, daily_limit: int, day_start: datetime) -> int | None:
        with self.transaction() as tx:
            if rejection.routing_id is not None and tx.connection.execute(
                    sa.select(record_rejections.c.id).where(record_rejections.c.routing_id == rejection.routing_id)
            ).first() is not None:
                return None  # the same request again: stored and counted once
            if daily_limit > 0:
                if tx._dialect == "postgresql":  # one member's rejections are counted and added one at a time
                    tx.connection.execute(sa.select(sa.func.pg_advisory_xact_lock(
                        sa.func.hashtext(f"baton-rejections:{rejection.member_id}"))))
                made = int(tx.connection.execute(
                    sa.select(sa.func.count()).select_from(record_rejections).where(
                        record_rejections.c.member_id == rejection.member_id,
                        record_rejections.c.rejected_at >= day_start)
                ).scalar_one())
                if made >= daily_limit:
                    return made
            tx.connection.execute(sa.insert(record_rejections), [row_values(rejection)])
        return None
